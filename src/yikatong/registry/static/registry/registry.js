/* Client-side checks of the registry forms (the server checks everything again). Messages match the
   server's. Fields carry data-check="resident-id|name|mobile|bank-account|credit-code". */
(function () {
  "use strict";

  var ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var ID_CHECK = "10X98765432";
  var USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  function compact(value) { return (value || "").replace(/[\s\-_]+/g, "").toUpperCase(); }

  function checkResidentId(raw) {
    var v = compact(raw);
    if (!v) return "";
    if (v.length !== 18) return "身份证号应为 18 位，实际为 " + v.length + " 位：请核对证件后重新录入";
    if (!/^[0-9]{17}[0-9X]$/.test(v)) return "身份证号格式错误：前 17 位必须是数字，第 18 位为数字或 X";
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += parseInt(v[i], 10) * ID_WEIGHTS[i];
    var expected = ID_CHECK[sum % 11];
    if (v[17] !== expected) return "身份证号校验位错误：应为 " + expected + "，请核对证件后重新录入";
    var y = +v.substr(6, 4), m = +v.substr(10, 2), d = +v.substr(12, 2);
    var birth = new Date(y, m - 1, d);
    if (birth.getFullYear() !== y || birth.getMonth() !== m - 1 || birth.getDate() !== d)
      return "身份证号中的出生日期 " + v.substr(6, 8) + " 不是有效日期：请核对证件后重新录入";
    if (birth > new Date()) return "身份证号中的出生日期晚于今天：请核对证件后重新录入";
    return "";
  }

  function checkName(raw) {
    var v = (raw || "").trim();
    if (!v) return "";
    if (/[0-9０-９]/.test(v)) return "姓名不能包含数字：请填写身份证上的姓名";
    if (v.replace(/\s+/g, "").length < 2) return "姓名长度应为 2–50 个字符：请填写身份证上的完整姓名";
    return "";
  }

  function checkMobile(raw) {
    var v = (raw || "").replace(/[\s\-()]+/g, "").replace(/^(\+?86|0086)(?=\d{11}$)/, "");
    if (!v) return "";
    if (!/^1[3-9]\d{9}$/.test(v)) return "手机号码应为 1 开头、第二位为 3–9 的 11 位数字：请核对后重新录入";
    return "";
  }

  function luhnValid(digits) {
    var sum = 0, alt = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var n = parseInt(digits[i], 10);
      if (alt) { n *= 2; if (n > 9) n -= 9; }
      sum += n; alt = !alt;
    }
    return sum % 10 === 0;
  }

  function checkBankAccount(raw, form) {
    var v = compact(raw);
    if (!v) return "";
    if (!/^[0-9]+$/.test(v)) return "银行账号只能包含数字（可用空格分组）：请核对后重新录入";
    if (v.length < 8 || v.length > 32) return "银行账号长度应为 8–32 位，实际为 " + v.length + " 位：请核对后重新录入";
    var kind = form.querySelector("[data-account-kind]");
    var corporate = kind && kind.value === "corporate";
    if (!corporate && v.length >= 16 && v.length <= 19 && v.indexOf("62") === 0 && !luhnValid(v))
      return "银行卡号校验失败（末位校验码不符）：请核对卡号后重新录入";
    return "";
  }

  function checkCreditCode(raw) {
    var v = compact(raw);
    if (!v) return "";
    if (v.length !== 18) return "统一社会信用代码应为 18 位，实际为 " + v.length + " 位：请核对营业执照或登记证书";
    var sum = 0;
    for (var i = 0; i < 17; i++) {
      var idx = USCC_ALPHABET.indexOf(v[i]);
      if (idx < 0) return "统一社会信用代码格式错误：只能包含数字和大写字母（不含 I、O、Z、S、V）";
      sum += idx * USCC_WEIGHTS[i];
    }
    var expected = USCC_ALPHABET[(31 - (sum % 31)) % 31];
    if (v[17] !== expected) return "统一社会信用代码校验位错误：应为 " + expected + "，请核对营业执照或登记证书";
    return "";
  }

  var CHECKS = { "resident-id": checkResidentId, "name": checkName, "mobile": checkMobile,
                 "bank-account": checkBankAccount, "credit-code": checkCreditCode };

  function showError(form, input, message) {
    var box = form.querySelector('[data-client-error="' + input.name + '"]');
    if (box) { box.textContent = message; box.hidden = !message; }
    input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function validate(form, input) {
    var message = "";
    if (input.required && !(input.value || "").trim()) message = "此项为必填项。";
    else if (input.dataset.check && CHECKS[input.dataset.check]) message = CHECKS[input.dataset.check](input.value, form);
    showError(form, input, message);
    return !message;
  }

  function toggleAccountFields(form) {
    var kind = form.querySelector("[data-account-kind]");
    if (!kind) return;
    var exception = form.querySelector('[data-field="exception_reason"]');
    var status = form.querySelector('[data-field="card_status"]');
    if (exception) exception.hidden = kind.value !== "other_bank";
    if (status) status.hidden = kind.value !== "ssc_card";
    var select = form.querySelector("[data-card-status]");
    var warning = form.querySelector("[data-card-warning]");
    if (warning) warning.hidden = !(select && kind.value === "ssc_card" && select.value === "not_activated");
  }

  function setup(form) {
    var inputs = form.querySelectorAll("input[name], select[name], textarea[name]");
    inputs.forEach(function (input) {
      if (input.type === "hidden") return;
      input.addEventListener("blur", function () { validate(form, input); });
      input.addEventListener("change", function () { toggleAccountFields(form); });
    });
    toggleAccountFields(form);
    form.addEventListener("submit", function (event) {
      var ok = true, first = null;
      inputs.forEach(function (input) {
        if (input.type === "hidden" || input.closest("[hidden]")) return;
        if (!validate(form, input)) { ok = false; first = first || input; }
      });
      if (!ok) { event.preventDefault(); if (first) first.focus(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-validate]").forEach(setup);
  });
})();
