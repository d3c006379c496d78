// The login page's one script: while the page waits for the phone, poll the login's
// state and, once the phone approved, submit the "continue" form. Without scripts the
// page still works: its "Check" button and a <noscript> refresh do the same by hand.
(function () {
  'use strict';
  var form = document.getElementById('complete-form');
  var status = document.getElementById('login-status');
  if (!form || !status || form.getAttribute('data-state') !== 'pending') {
    return;
  }
  var done = false;
  function poll() {
    if (done) {
      return;
    }
    fetch('/login/status', {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json' }
    })
      .then(function (response) {
        return response.ok ? response.json() : { state: 'error' };
      })
      .then(function (body) {
        if (body.state === 'approved') {
          done = true;
          status.textContent = status.getAttribute('data-approved');
          form.submit();
        } else if (body.state === 'expired' || body.state === 'none') {
          done = true;
          status.textContent = status.getAttribute('data-expired');
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1000);
})();
