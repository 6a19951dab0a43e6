// The returns bench: a barcode scanner types a SKU and Enter into #scan. A SKU on the return adds one
// unit to what came back of its line (never more than was asked back); any other SKU counts as an
// unexpected item. Units that came back go to "restock" unless another disposition is typed.
(function () {
  const scan = document.getElementById("scan");
  const form = document.getElementById("receive-form");
  if (!scan || !form) return;
  const result = document.getElementById("scan-result");
  const rows = Array.from(document.querySelectorAll("#receive-lines tbody tr"));
  const extraSku = document.getElementById("extra-sku");
  const extraQuantity = document.getElementById("extra-quantity");

  function say(text, ok) {
    result.textContent = text;
    result.className = "small " + (ok ? "ok" : "warn");
  }

  // Restock takes whatever the other dispositions leave of the units that came back.
  function balance(row) {
    const received = Number(row.querySelector("input.received").value || 0);
    const restock = row.querySelector("input[data-disposition=restock]");
    const others = Array.from(row.querySelectorAll("input.disposition"))
      .filter(function (input) { return input !== restock; })
      .reduce(function (sum, input) { return sum + Number(input.value || 0); }, 0);
    restock.value = Math.max(received - others, 0);
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const sku = scan.value.trim().toUpperCase();
    scan.value = "";
    if (!sku) return;
    const row = rows.find(function (r) { return r.dataset.sku === sku; });
    if (!row) {
      if (extraSku.value && extraSku.value.toUpperCase() !== sku) { say(sku + " is not on this return; the unexpected item's row already holds " + extraSku.value + ".", false); return; }
      extraSku.value = sku;
      extraQuantity.value = Number(extraQuantity.value || 0) + 1;
      say(sku + " is not on this return: counted as an unexpected item (" + extraQuantity.value + ").", false);
      return;
    }
    const input = row.querySelector("input.received");
    if (input.readOnly) { say("Already counted.", false); return; }
    if (Number(input.value) >= Number(input.max)) { say("All " + input.max + " of " + sku + " asked back are counted; another one is unexpected.", false); return; }
    input.value = Number(input.value) + 1;
    balance(row);
    say(sku + ": " + input.value + " of " + input.max, true);
  });
  rows.forEach(function (row) {
    row.querySelectorAll("input.received, input.disposition:not([data-disposition=restock])").forEach(function (input) {
      input.addEventListener("input", function () { balance(row); });
    });
  });
  // Enter in the scan field must never submit the receipt by accident.
  form.addEventListener("submit", function (event) {
    if (document.activeElement === scan) event.preventDefault();
  });
})();
