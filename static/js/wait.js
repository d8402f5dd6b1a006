/* The "processing" page: ask the server every two seconds, for up to two minutes, whether the payment
   has been posted, then reload to show the receipt or the reason. Without script, "Check again" does it. */
(function () {
  "use strict";
  var box = document.getElementById("wait-status");
  if (!box || !window.fetch) { return; }
  var tries = 0;
  function check() {
    tries += 1;
    fetch(box.dataset.statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { status: "pending" }; })
      .then(function (body) {
        if (body.status !== "pending") { window.location.reload(); }
        else if (tries < 60) { window.setTimeout(check, 2000); }
      }, function () { if (tries < 60) { window.setTimeout(check, 2000); } });
  }
  window.setTimeout(check, 1500);
}());
