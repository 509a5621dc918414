// Live validation of the card-entry form: Luhn, brand, expiry and CVC as the user types. Same origin only (CSP);
// the form still posts without this script, and the Vault checks everything again.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form) { return; }
  var summary = document.getElementById("error-summary");
  var brandOut = document.getElementById("brand");
  var fields = {
    number: document.getElementById("f-number"),
    exp_month: document.getElementById("f-exp-month"),
    exp_year: document.getElementById("f-exp-year"),
    cvc: document.getElementById("f-cvc")
  };
  var touched = {};

  function digits(s) { return s.replace(/[\s-]/g, ""); }

  function luhn(n) {
    var sum = 0, dbl = false;
    for (var i = n.length - 1; i >= 0; i--) {
      var d = n.charCodeAt(i) - 48;
      if (dbl) { d *= 2; if (d > 9) { d -= 9; } }
      sum += d; dbl = !dbl;
    }
    return sum % 10 === 0;
  }

  function brand(n) {
    if (/^4/.test(n)) { return "Visa"; }
    if (/^5[1-5]/.test(n) || /^2(2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720)/.test(n)) { return "Mastercard"; }
    if (/^3[47]/.test(n)) { return "American Express"; }
    if (/^(6011|65|64[4-9])/.test(n)) { return "Discover"; }
    if (/^(36|38|30[0-5])/.test(n)) { return "Diners Club"; }
    if (/^35(2[89]|[3-8])/.test(n)) { return "JCB"; }
    if (/^62/.test(n)) { return "UnionPay"; }
    return "";
  }

  function check() {
    var errors = {};
    var n = digits(fields.number.value);
    if (!/^\d{12,19}$/.test(n)) { errors.number = "The card number must be 12 to 19 digits."; }
    else if (!luhn(n)) { errors.number = "The card number is not valid."; }
    var m = fields.exp_month.value.trim(), y = fields.exp_year.value.trim();
    if (!/^\d{1,2}$/.test(m) || +m < 1 || +m > 12) { errors.exp_month = "The expiry month must be 1 to 12."; }
    if (!/^\d{4}$/.test(y)) { errors.exp_year = "The expiry year must have four digits."; }
    else if (!errors.exp_month) {
      var now = new Date();
      if (+y * 12 + +m < now.getUTCFullYear() * 12 + now.getUTCMonth() + 1) { errors.exp_year = "The card has expired."; }
    }
    if (!/^\d{3,4}$/.test(fields.cvc.value.trim())) { errors.cvc = "The CVC must be 3 or 4 digits."; }
    return errors;
  }

  function show(errors, all) {
    Object.keys(fields).forEach(function (name) {
      var input = fields[name];
      var out = document.getElementById(input.id + "-error");
      var message = (all || touched[name]) ? errors[name] : undefined;
      if (message) {
        out.textContent = message; out.hidden = false; input.setAttribute("aria-invalid", "true");
      } else {
        out.textContent = ""; out.hidden = true; input.removeAttribute("aria-invalid");
      }
    });
    var b = brand(digits(fields.number.value));
    brandOut.textContent = b ? "Card type: " + b : "";
  }

  Object.keys(fields).forEach(function (name) {
    fields[name].addEventListener("input", function () {
      if (name === "number" && digits(fields.number.value).length >= 12) { touched.number = true; }
      show(check(), false);
    });
    fields[name].addEventListener("blur", function () { touched[name] = true; show(check(), false); });
  });

  form.addEventListener("submit", function (e) {
    var errors = check();
    var names = Object.keys(errors);
    show(errors, true);
    if (names.length === 0) {
      document.getElementById("submit").disabled = true;
      summary.hidden = true;
      return;
    }
    e.preventDefault();
    summary.textContent = "";
    var h = document.createElement("h2");
    h.textContent = "Please check your card details";
    var ul = document.createElement("ul");
    names.forEach(function (name) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "#" + fields[name].id;
      a.textContent = errors[name];
      li.appendChild(a); ul.appendChild(li);
    });
    summary.appendChild(h); summary.appendChild(ul);
    summary.hidden = false;
    summary.focus();
  });
})();
