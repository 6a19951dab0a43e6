// The pack station: a barcode scanner types a SKU and Enter into #scan; each scan adds one unit of
// that line to the box (never more than wait to be packed) and keeps the weight estimate current.
(function () {
  const scan = document.getElementById("scan");
  const form = document.getElementById("pack-form");
  if (!scan || !form) return;
  const result = document.getElementById("scan-result");
  const weight = document.getElementById("weight");
  const rows = Array.from(document.querySelectorAll("#pack-lines tbody tr"));
  const PACKAGING_GRAMS = 200;
  let weightTouched = false;

  function estimate() {
    if (weightTouched) return;
    const grams = rows.reduce(function (sum, row) {
      return sum + Number(row.dataset.weight || 0) * Number(row.querySelector("input").value || 0);
    }, 0);
    weight.value = grams ? grams + PACKAGING_GRAMS : "";
  }

  function say(text, ok) {
    result.textContent = text;
    result.className = "small " + (ok ? "ok" : "warn");
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const sku = scan.value.trim().toUpperCase();
    scan.value = "";
    if (!sku) return;
    const row = rows.find(function (r) { return r.dataset.sku === sku; });
    if (!row) { say(sku + " is not on this order.", false); return; }
    const input = row.querySelector("input");
    if (Number(input.value) >= Number(input.max)) { say("All " + input.max + " of " + sku + " are in the box already.", false); return; }
    input.value = Number(input.value) + 1;
    say(sku + ": " + input.value + " of " + input.max, true);
    estimate();
  });
  rows.forEach(function (row) { row.querySelector("input").addEventListener("input", estimate); });
  weight.addEventListener("input", function () { weightTouched = true; });
  // Enter in the scan field must never submit the box by accident.
  form.addEventListener("submit", function (event) {
    if (document.activeElement === scan) event.preventDefault();
  });
})();
