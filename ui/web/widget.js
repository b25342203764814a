/* shopmind customer widget: paste into any page of the shop.
 *
 *   <script src="https://ASSISTANT_HOST/widget/widget.js" defer></script>
 *
 * It talks to the REST API of the server it was loaded from (or data-shopmind-url): it starts a
 * signed customer session (POST /v1/sessions), then streams each answer (POST /v1/chat/stream,
 * Server-Sent Events). No framework, no build step. */
(function () {
  const script = document.currentScript;
  const base = (script.dataset.shopmindUrl || new URL(script.src).origin).replace(/\/$/, "");
  const key = "shopmind-session:" + base;
  const css = `
  #sm-launch{position:fixed;right:20px;bottom:20px;z-index:99999;border:0;border-radius:24px;
    padding:12px 18px;background:#1f6feb;color:#fff;font:15px system-ui;cursor:pointer;box-shadow:0 2px 8px #0004}
  #sm-panel{position:fixed;right:20px;bottom:76px;z-index:99999;width:360px;max-width:92vw;height:480px;
    display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 4px 24px #0005;
    font:14px system-ui;overflow:hidden}
  #sm-panel header{background:#1f6feb;color:#fff;padding:10px 14px;font-weight:600}
  #sm-log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px}
  .sm-msg{padding:8px 10px;border-radius:10px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}
  .sm-user{align-self:flex-end;background:#1f6feb;color:#fff}
  .sm-bot{align-self:flex-start;background:#f0f2f5;color:#111}
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
  panel.innerHTML = `<header>Customer service</header><div id="sm-log"></div>
    <form id="sm-form"><input id="sm-input" autocomplete="off" placeholder="Type a message..." aria-label="message">
    <button id="sm-send" type="submit">Send</button></form>`;
  document.body.append(launch, panel);
  const log = panel.querySelector("#sm-log");
  const input = panel.querySelector("#sm-input");

  function add(cls, text) {
    const div = document.createElement("div");
    div.className = "sm-msg " + cls;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  async function session() {
    let s = sessionStorage.getItem(key);
    if (!s) {
      const r = await fetch(base + "/v1/sessions", {method: "POST"});
      if (!r.ok) throw new Error("could not start a session (" + r.status + ")");
      s = (await r.json()).session;
      sessionStorage.setItem(key, s);
    }
    return s;
  }

  async function send(text) {
    add("sm-user", text);
    const bot = add("sm-bot", "…");
    let answer = "";
    try {
      const r = await fetch(base + "/v1/chat/stream", {
        method: "POST", headers: {"Content-Type": "application/json", "X-Session": await session()},
        body: JSON.stringify({message: text})});
      if (r.status === 401) { sessionStorage.removeItem(key); }
      if (!r.ok) { bot.textContent = (await r.json()).detail || ("error " + r.status); return; }
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          const data = block.split(/\r?\n/).filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).join("\n");
          if (!data) continue;
          const ev = JSON.parse(data);
          if (ev.type === "token") { answer += ev.text; bot.textContent = answer; }
          else if (ev.type === "tool_call") { log.insertBefore(stepNode("⚙ " + ev.name.replace(/_/g, " ") + "…"), bot); }
          else if (ev.type === "tool_result" && ev.error) { log.insertBefore(stepNode("✗ " + ev.name.replace(/_/g, " ") + " refused"), bot); }
          else if (ev.type === "confirm") { confirmButtons(); }
          else if (ev.type === "final") { bot.textContent = ev.text || answer || "(no answer)"; }
        }
        log.scrollTop = log.scrollHeight;
      }
    } catch (err) {
      bot.textContent = "Sorry, the assistant is unavailable: " + err.message;
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

  launch.onclick = () => {
    const open = panel.style.display === "flex";
    panel.style.display = open ? "none" : "flex";
    if (!open) {
      if (!log.children.length) add("sm-bot", "Hi! How can I help with your order today?");
      input.focus();
    }
  };
  panel.querySelector("#sm-form").onsubmit = (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text) { input.value = ""; send(text); }
  };
})();
