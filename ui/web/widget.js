/* shopmind customer widget: paste into any page of the shop.
 *
 *   <script src="https://ASSISTANT_HOST/widget/widget.js" defer></script>
 *
 * A shop whose customer is signed in adds who they are, signed by the shop's backend
 * (docs/desk.md): data-shopmind-customer="ID" data-shopmind-signature="HEX HMAC-SHA256(secret, ID)".
 * A wrong or missing signature falls back to an anonymous session (the customer signs in in the chat).
 *
 * It talks to the REST API of the server it was loaded from (or data-shopmind-url): it starts a
 * signed customer session (POST /v1/sessions), then streams each answer (POST /v1/chat/stream,
 * Server-Sent Events). "Talk to a person" asks for a person (POST /v1/threads/ID/handoff); while
 * one is waited for or answering, the widget follows GET /v1/threads/ID/updates, where what a
 * person writes arrives. window.shopmind.track("view", {product_id}) records a behaviour event
 * for the signed-in customer. No framework, no build step. */
(function () {
  const script = document.currentScript;
  const base = (script.dataset.shopmindUrl || new URL(script.src).origin).replace(/\/$/, "");
  const customer = script.dataset.shopmindCustomer || "";
  const signature = script.dataset.shopmindSignature || "";
  const key = "shopmind-session:" + base + ":" + customer;
  const HELD = ["waiting_for_human", "human"];
  const css = `
  #sm-launch{position:fixed;right:20px;bottom:20px;z-index:99999;border:0;border-radius:24px;
    padding:12px 18px;background:#1f6feb;color:#fff;font:15px system-ui;cursor:pointer;box-shadow:0 2px 8px #0004}
  #sm-panel{position:fixed;right:20px;bottom:76px;z-index:99999;width:360px;max-width:92vw;height:480px;
    display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 4px 24px #0005;
    font:14px system-ui;overflow:hidden}
  #sm-panel header{background:#1f6feb;color:#fff;padding:10px 14px;font-weight:600;display:flex;
    justify-content:space-between;align-items:center}
  #sm-person{border:1px solid #fff8;background:transparent;color:#fff;border-radius:12px;padding:3px 9px;
    font:12px system-ui;cursor:pointer}
  #sm-status{display:none;background:#fff8e1;color:#5d4300;padding:6px 12px;font-size:12px}
  #sm-log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px}
  .sm-msg{padding:8px 10px;border-radius:10px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}
  .sm-user{align-self:flex-end;background:#1f6feb;color:#fff}
  .sm-bot{align-self:flex-start;background:#f0f2f5;color:#111}
  .sm-person{align-self:flex-start;background:#e6f4ea;color:#111;border-left:3px solid #1e8e3e}
  .sm-person b{display:block;font-size:11px;color:#1e8e3e;margin-bottom:2px}
  .sm-step{align-self:flex-start;color:#666;font-size:12px}
  .sm-confirm button{margin:4px 6px 0 0}
  #sm-form{display:flex;border-top:1px solid #ddd}
  #sm-input{flex:1;border:0;padding:10px;font:14px system-ui;outline:none}
  #sm-send{border:0;background:#1f6feb;color:#fff;padding:0 16px;cursor:pointer}`;
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
  const launch = Object.assign(document.createElement("button"), {id: "sm-launch", textContent: "Chat with us"});
  const panel = document.createElement("div");
  panel.id = "sm-panel";
  panel.innerHTML = `<header><span>Customer service</span>
    <button id="sm-person" type="button">Talk to a person</button></header>
    <div id="sm-status" role="status"></div><div id="sm-log"></div>
    <form id="sm-form"><input id="sm-input" autocomplete="off" placeholder="Type a message..." aria-label="message">
    <button id="sm-send" type="submit">Send</button></form>`;
  document.body.append(launch, panel);
  const log = panel.querySelector("#sm-log");
  const input = panel.querySelector("#sm-input");
  const statusBar = panel.querySelector("#sm-status");
  let following = false;
  let cursor = null;  // the last message id seen in the thread's updates

  function add(cls, text) {
    const div = document.createElement("div");
    div.className = "sm-msg " + cls;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function addPerson(author, text) {  // a message a person (an operator) wrote
    const div = add("sm-person", "");
    const who = document.createElement("b");
    who.textContent = author + " (support team)";
    div.append(who, document.createTextNode(text));
  }

  function showStatus(desk) {
    statusBar.textContent = desk.notice || "";
    statusBar.style.display = desk.notice ? "block" : "none";
  }

  async function openSession(body) {
    const r = await fetch(base + "/v1/sessions", {method: "POST",
      headers: body ? {"Content-Type": "application/json"} : {}, body: body ? JSON.stringify(body) : undefined});
    return r.ok ? r.json() : null;
  }

  async function session() {
    let s = JSON.parse(sessionStorage.getItem(key) || "null");
    if (!s) {
      // a verified customer first; a refused signature falls back to the anonymous flow
      s = (customer && signature && await openSession({customer_id: customer, signature})) ||
          await openSession(null);
      if (!s) throw new Error("could not start a session");
      sessionStorage.setItem(key, JSON.stringify(s));
    }
    return s;
  }

  function forget() { sessionStorage.removeItem(key); }

  async function readEvents(response, onEvent) {  // Server-Sent Events over fetch
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        const data = block.split(/\r?\n/).filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).join("\n");
        if (data) onEvent(JSON.parse(data));
      }
      log.scrollTop = log.scrollHeight;
    }
  }

  async function follow() {  // what a person writes, while one is waited for or answering
    if (following) return;
    following = true;
    let held = true;
    try {
      while (held) {
        const s = await session();
        const after = cursor === null ? "" : "&after=" + cursor;
        const r = await fetch(base + "/v1/threads/" + s.thread_id + "/updates?wait=25" + after,
                              {headers: {"X-Session": s.session}});
        if (!r.ok) { if (r.status === 401) forget(); break; }
        await readEvents(r, (u) => {
          cursor = u.cursor;
          if (u.type === "status") { showStatus(u.desk); held = HELD.includes(u.desk.status); }
          else if (u.type === "message") addPerson(u.message.author, u.message.content);
        });
      }
    } catch (err) {
      showStatus({notice: "Connection lost: " + err.message});
    } finally {
      following = false;
    }
  }

  async function send(text) {
    add("sm-user", text);
    const bot = add("sm-bot", "…");
    let answer = "";
    try {
      const s = await session();
      const r = await fetch(base + "/v1/chat/stream", {
        method: "POST", headers: {"Content-Type": "application/json", "X-Session": s.session},
        body: JSON.stringify({message: text})});
      if (r.status === 401) { forget(); }
      if (!r.ok) { bot.textContent = (await r.json()).detail || ("error " + r.status); return; }
      await readEvents(r, (ev) => {
        if (ev.type === "token") { answer += ev.text; bot.textContent = answer; }
        else if (ev.type === "tool_call") { log.insertBefore(stepNode("⚙ " + ev.name.replace(/_/g, " ") + "…"), bot); }
        else if (ev.type === "tool_result" && ev.error) { log.insertBefore(stepNode("✗ " + ev.name.replace(/_/g, " ") + " refused"), bot); }
        else if (ev.type === "confirm") { confirmButtons(); }
        else if (ev.type === "handoff") { showStatus({notice: ev.text}); follow(); }
        else if (ev.type === "final") {
          // the final text is what the customer reads; empty: a person answers (tokens
          // streamed before an operator took the thread are withdrawn with the bubble)
          if (ev.text) bot.textContent = ev.text; else bot.remove();
        }
      });
    } catch (err) {
      bot.textContent = "Sorry, the assistant is unavailable: " + err.message;
    }
  }

  async function askForPerson() {
    try {
      const s = await session();
      const r = await fetch(base + "/v1/threads/" + s.thread_id + "/handoff",
                            {method: "POST", headers: {"X-Session": s.session}});
      if (!r.ok) { if (r.status === 401) forget(); throw new Error("error " + r.status); }
      showStatus(await r.json());
      follow();
    } catch (err) {
      showStatus({notice: "Could not reach the support team: " + err.message});
    }
  }

  function stepNode(text) {
    const div = document.createElement("div");
    div.className = "sm-step";
    div.textContent = text;
    return div;
  }

  function confirmButtons() {
    const box = document.createElement("div");
    box.className = "sm-confirm";
    for (const word of ["yes", "no"]) {
      const b = document.createElement("button");
      b.textContent = word === "yes" ? "Yes, do it" : "No";
      b.onclick = () => { box.remove(); send(word); };
      box.appendChild(b);
    }
    setTimeout(() => { log.appendChild(box); log.scrollTop = log.scrollHeight; }, 0);
  }

  /* shopmind.track("view" | "cart" | "purchase", {product_id, quantity?, price?}): a behaviour
   * event for the signed-in customer (the server refuses it for an anonymous session and limits
   * how many a session sends). Resolves to true when it was recorded. */
  async function track(eventType, data) {
    if (!customer && !sessionStorage.getItem(key)) return false;  // nobody to record it for
    try {
      const s = await session();
      const r = await fetch(base + "/v1/events", {method: "POST",
        headers: {"Content-Type": "application/json", "X-Session": s.session},
        body: JSON.stringify(Object.assign({}, data, {event_type: eventType}))});
      return r.ok;
    } catch (err) {
      return false;
    }
  }
  window.shopmind = Object.assign(window.shopmind || {}, {track});

  launch.onclick = () => {
    const open = panel.style.display === "flex";
    panel.style.display = open ? "none" : "flex";
    if (!open) {
      if (!log.children.length) add("sm-bot", "Hi! How can I help with your order today?");
      if (sessionStorage.getItem(key)) follow();  // a person may hold this conversation
      input.focus();
    }
  };
  panel.querySelector("#sm-person").onclick = askForPerson;
  panel.querySelector("#sm-form").onsubmit = (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text) { input.value = ""; send(text); }
  };
})();
