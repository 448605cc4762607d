// The page's side of hashing photos in the browser (pdq.js does the hashing, in a Worker).
//
// For every <input type="file" data-pdq-target="PREFIX" data-pdq-form="ID"
// data-pdq-status="ID">: it has no name and sits outside every form, so the photo itself is
// never sent. Each chosen photo is hashed in the worker and gets a pair of hidden inputs,
// PREFIX-pdq and PREFIX-quality ("pdq" and "quality" where PREFIX is empty), appended to the
// form data-pdq-form names; a new choice replaces the pairs of the last. One line per photo
// goes into the element data-pdq-status names, from the input's data-msg-KEY attributes (so
// that the server's catalogue translates them; "{file}" stands for the file's name): working,
// done, canvas (hashed without WebGL2), undecodable, low_quality, too_large. While photos are
// being hashed the form is not sent.
(() => {
  "use strict";

  const workerUrl = new URL("pdq.js", document.currentScript.src);
  let worker = null;
  const replies = []; // the resolvers of the hashes asked for, in order: the worker answers so

  function hash(file) {
    if (worker === null) {
      worker = new Worker(workerUrl);
      worker.onmessage = (event) => replies.shift()?.(event.data);
      // The worker did not load (a policy, an old browser): no photo waiting can be hashed
      // here; the next choice tries a new worker, which answers (or fails) in its turn, so
      // that no photo waits for ever and the form can still be sent with its links.
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        worker = null;
        const reply = { ok: false, code: "undecodable", message: "pdq.js did not load" };
        replies.splice(0).forEach((resolve) => resolve(reply));
      };
    }
    return new Promise((resolve) => {
      replies.push(resolve);
      worker.postMessage({ file });
    });
  }

  function fieldName(prefix, field) {
    return prefix ? `${prefix}-${field}` : field;
  }

  function hidden(name, value, owner) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = String(value);
    input.dataset.pdqFrom = owner;
    return input;
  }

  function message(input, key, file, fallback) {
    const text = input.getAttribute(`data-msg-${key}`) ?? fallback ?? key;
    return text.replaceAll("{file}", file.name);
  }

  let pending = 0; // photos being hashed, on the whole page
  const choices = new Map(); // input -> its latest choice's number: older replies are dropped

  async function hashChosen(input) {
    const form = document.getElementById(input.dataset.pdqForm);
    const status = document.getElementById(input.dataset.pdqStatus);
    const owner = input.id || input.dataset.pdqTarget;
    const choice = (choices.get(input) ?? 0) + 1;
    choices.set(input, choice);
    for (const old of form.querySelectorAll("input[data-pdq-from]")) {
      if (old.dataset.pdqFrom === owner) old.remove();
    }
    status.replaceChildren();
    const files = [...input.files];
    const lines = files.map((file) => {
      const line = document.createElement("span");
      line.textContent = message(input, "working", file);
      status.append(line, document.createElement("br"));
      return line;
    });
    pending += files.length;
    // Asked all at once; the worker takes them one at a time.
    await Promise.all(
      files.map(async (file, index) => {
        const reply = await hash(file);
        pending -= 1;
        if (choices.get(input) !== choice) return;
        if (reply.ok) {
          form.append(
            hidden(fieldName(input.dataset.pdqTarget, "pdq"), reply.hash, owner),
            hidden(fieldName(input.dataset.pdqTarget, "quality"), reply.quality, owner),
          );
        }
        const key = !reply.ok ? reply.code : reply.path === "canvas" ? "canvas" : "done";
        lines[index].textContent = message(input, key, file, reply.message);
      }),
    );
  }

  for (const input of document.querySelectorAll("input[type=file][data-pdq-target]")) {
    input.addEventListener("change", () => hashChosen(input));
    const form = document.getElementById(input.dataset.pdqForm);
    form.addEventListener("submit", (event) => {
      if (pending > 0) event.preventDefault();
    });
  }
})();
