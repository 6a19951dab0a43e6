// Behaviour the dashboard's pages share, as data attributes instead of inline handlers (the pages'
// Content-Security-Policy runs no inline script):
//   <input type="checkbox" data-select-all="order">  ticks every input[name=order] of the page
//   <form data-confirm="Cancel SO-0000012?">            asks before it is sent
//   <button data-print>                                 prints the page
//   <span id="selected-count">                         says how many orders are selected (order list)
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches && target.matches("[data-select-all]")) {
    const name = target.getAttribute("data-select-all");
    document.querySelectorAll(`input[name="${name}"]`).forEach((box) => { box.checked = target.checked; });
  }
  const counter = document.getElementById("selected-count");
  const form = document.getElementById("bulk");
  if (counter && form) {
    const chosen = [...form.querySelectorAll("input[name=order]")].filter((box) => box.checked).length;
    counter.textContent = chosen ? `${chosen} selected` : "";
  }
});
document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
}, true);
document.addEventListener("click", (event) => {
  if (event.target.closest && event.target.closest("[data-print]")) window.print();
});
