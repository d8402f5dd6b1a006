/* The card form: the card goes from Stripe.js straight to Stripe, never to our server.
   1. confirmCardSetup saves the card on a SetupIntent; 2. the form sends only the SetupIntent's id, and
   the server charges the card; 3. if the bank asks for 3-D Secure, the server sends the page back in
   "authenticate" mode and confirmCardPayment runs it, then the page goes to the payment's status. */
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof Stripe !== "function") { return; }
  var data = form.dataset;
  var stripe = Stripe(data.publishableKey, { locale: data.locale });
  var statusBox = document.getElementById("pay-status");
  var errorBox = document.getElementById("card-errors");

  function say(text) { statusBox.textContent = text; }

  function showError(text) {
    errorBox.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    errorBox.appendChild(p);
    errorBox.classList.remove("is-empty");
    say("");
    errorBox.focus();
  }

  var declines = JSON.parse(data.declines || "{}");

  // Our own words for the refusals a patient can act on, in their language; Stripe's words otherwise.
  function messageFor(error) {
    if (!error) { return data.textFailed; }
    var code = error.decline_code || error.code;
    if (code && declines[code]) { return declines[code]; }
    if (code === "card_declined" || error.decline_code) { return data.textDeclined; }
    return error.message || data.textFailed;
  }

  if (data.mode === "authenticate") {
    say(data.textAuthenticating);
    stripe.confirmCardPayment(data.clientSecret).then(function () {
      // Success or not, the status page asks the server what happened: the server is the record.
      window.location.assign(data.statusUrl);
    });
    return;
  }

  var card = stripe.elements().create("card", { hidePostalCode: false });
  card.mount("#card-element");
  var button = document.getElementById("pay-button");
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) { return; }
    button.disabled = true;
    errorBox.classList.add("is-empty");
    say(data.textProcessing);
    stripe.confirmCardSetup(data.clientSecret, { payment_method: { card: card } }).then(function (result) {
      if (result.error) {
        showError(messageFor(result.error));
        button.disabled = false;
        return;
      }
      form.elements.setup_intent.value = result.setupIntent.id;
      form.submit();
    }, function () {
      showError(data.textFailed);
      button.disabled = false;
    });
  });
}());
