/* The public live pages: follow /ws, keep the figures exact, reconnect without losing events.

   - Amounts are integers in base units; they are formatted with BigInt, never floats.
   - The vault page subscribes to its vault with `last_seq`: after a drop it reconnects (back-off
     0.5 s doubling to 10 s) and the server replays what it missed, so nothing is lost or shown
     twice (a message at or below the highest seq seen is dropped here too).
   - The overview follows the public `feed` and `tvl` streams; after a drop it reloads its state
     from /live/summary, then follows again. */
(function (global) {
  "use strict";

  // Vault program v2 numbers a vault's events from (generation << 20) + 1: people see the
  // number within the generation; the full seq stays the resume point (last_seq).
  const SEQ_GENERATION_SHIFT = 20;
  const eventNumber = (seq) => seq % 2 ** SEQ_GENERATION_SHIFT;

  const EVENT_TYPES = new Set(["deposit", "withdrawal", "surplus", "lock", "unlock", "transfer",
                               "vault_initialized", "vault_closed"]);

  function formatter(decimals, symbol) {
    const scale = 10n ** BigInt(decimals);
    return function (value) {
      if (value === null || value === undefined) return "—";
      let n = BigInt(value);
      const sign = n < 0n ? "-" : "";
      if (n < 0n) n = -n;
      const whole = (n / scale).toLocaleString("en-US");
      const fraction = (n % scale).toString().padStart(decimals, "0");
      return `${sign}${whole}.${fraction} ${symbol}`;
    };
  }

  function shortKey(key) { return key && key.length > 12 ? `${key.slice(0, 4)}…${key.slice(-4)}` : (key || ""); }

  function setStatus(text, kind) {
    const el = document.getElementById("stream-status");
    if (el) { el.textContent = text; el.className = `status ${kind}`; }
  }

  class Stream {
    constructor(subscriptions, onMessage, onReconnect) {
      this.subscriptions = subscriptions;  // () => [frames]
      this.onMessage = onMessage;
      this.onReconnect = onReconnect;
      this.delay = 500;
      this.connections = 0;
      this.connect();
    }

    connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws`);
      this.socket = socket;
      socket.onopen = () => {
        this.delay = 500;
        this.connections += 1;
        if (this.connections > 1 && this.onReconnect) this.onReconnect();
        for (const frame of this.subscriptions()) socket.send(JSON.stringify(frame));
        setStatus("live", "live");
      };
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message.type === "heartbeat") { socket.send(JSON.stringify({ action: "ping" })); return; }
        if (message.type === "error") { console.warn("/ws", message); return; }
        this.onMessage(message);
      };
      socket.onclose = () => {
        setStatus("reconnecting…", "down");
        setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 10000);
      };
    }
  }

  function cell(tag, className, text) {
    const el = document.createElement(tag);
    el.className = className;
    el.textContent = text;
    return el;
  }

  // Built with textContent only: nothing from a message is ever parsed as HTML.
  function feedItem(message, fmt, { withVault }) {
    const li = document.createElement("li");
    li.className = `event ${message.type}`;
    li.dataset.signature = message.signature || "";
    const when = message.timestamp ? new Date(message.timestamp * 1000).toLocaleTimeString() : "";
    const kind = message.type === "transfer" ? `transfer ${message.direction || ""}` : message.type.replace("_", " ");
    li.append(cell("time", "", when), cell("span", "kind", kind),
              cell("span", "amount", message.amount ? fmt(message.amount) : ""));
    if (withVault) {
      const who = cell("span", "who", "");
      const link = cell("a", "", shortKey(message.user));
      link.href = `/vaults/${encodeURIComponent(message.user || "")}`;
      who.append(link);
      li.append(who);
    } else {
      li.append(cell("span", "who", typeof message.seq === "number" ? `#${eventNumber(message.seq)}` : ""));
    }
    const sig = cell("span", "sig", shortKey(message.signature));
    sig.title = message.signature || "";
    li.append(sig);
    return li;
  }

  function prepend(list, item, limit) {
    list.insertBefore(item, list.firstChild);
    while (list.children.length > limit) list.removeChild(list.lastChild);
  }

  // ---- / : TVL, vaults, locked against available, reconciliation, the feed ----
  function index(initial) {
    const fmt = formatter(initial.decimals, initial.symbol);
    const feed = document.getElementById("feed");
    let state, chart, seen;

    function render() {
      document.getElementById("tvl").textContent = fmt(state.total_value_locked);
      document.getElementById("vault-count").textContent = state.total_vaults;
      document.getElementById("locked").textContent = fmt(state.locked);
      document.getElementById("available").textContent = fmt(state.available);
      const total = BigInt(state.locked) + BigInt(state.available);
      const share = total > 0n ? Number((BigInt(state.locked) * 1000n) / total) / 10 : 0;
      document.getElementById("locked-bar").style.width = `${share}%`;
      const recon = state.reconciliation;
      const el = document.getElementById("reconciliation");
      if (!recon) { el.textContent = "not run yet"; el.className = "recon"; }
      else {
        el.textContent = `${recon.status} · ${recon.counts.matched} matched, ${recon.counts.mismatch} mismatched, ` +
                         `${recon.counts.error} not comparable · ${new Date(recon.at * 1000).toLocaleTimeString()}`;
        el.className = `recon ${recon.status}`;
      }
    }

    function load(summary) {
      state = summary;
      seen = new Set();
      feed.innerHTML = "";
      for (const message of summary.events.slice().reverse()) add(message, false);
      const chartEl = document.getElementById("tvl-chart");
      chart = consoleCharts.balanceChart(chartEl, { ...summary.series, decimals: summary.decimals, symbol: summary.symbol });
      if (!chart) chartEl.innerHTML = '<p class="help">no deposits yet</p>';
      render();
    }

    function add(message, live) {
      const key = `${message.signature}:${message.vault}:${message.seq}`;
      if (seen.has(key)) return;
      seen.add(key);
      prepend(feed, feedItem(message, fmt, { withVault: true }), 30);
      if (!live) return;
      const amount = BigInt(message.amount || 0);
      const s = state;
      const add = (name, delta) => { s[name] = (BigInt(s[name]) + delta).toString(); };
      switch (message.type) {
        case "deposit": case "surplus": add("total_value_locked", amount); add("available", amount); break;
        case "withdrawal": add("total_value_locked", -amount); add("available", -amount); break;
        case "lock": add("locked", amount); add("available", -amount); break;
        case "unlock": add("locked", -amount); add("available", amount); break;
        case "transfer": if (message.direction === "in") add("available", amount); else add("locked", -amount); break;
        case "vault_initialized": s.total_vaults += 1; break;
        case "vault_closed": s.total_vaults -= 1; break;
      }
      if (["deposit", "surplus", "withdrawal"].includes(message.type)) {
        const point = Number(BigInt(s.total_value_locked));
        if (chart) chart.push(message.timestamp || Math.floor(Date.now() / 1000), point);
        else chart = consoleCharts.balanceChart(document.getElementById("tvl-chart"),
          { t: [message.timestamp], total: [point], decimals: initial.decimals, symbol: initial.symbol });
      }
      render();
    }

    load(initial);
    new Stream(() => [{ action: "subscribe", feed: true }], (message) => {
      if (EVENT_TYPES.has(message.type)) add(message, true);
      else if (message.type === "tvl_update") {
        state.total_value_locked = message.total_value_locked;
        state.total_vaults = message.total_vaults;
        render();
      }
    }, () => fetch("/live/summary").then((r) => r.json()).then(load).catch(() => {}));

    const toggle = document.getElementById("lookup-toggle");
    const form = document.getElementById("lookup");
    toggle.addEventListener("click", (e) => { e.preventDefault(); form.hidden = !form.hidden; });
    form.addEventListener("submit", (e) => { e.preventDefault(); location.href = `/vaults/${form.owner.value.trim()}`; });
  }

  // ---- /vaults/<owner> : live balance and history, replayed from last_seq after a drop ----
  function vault(initial) {
    const fmt = formatter(initial.decimals, initial.symbol);
    const history = document.getElementById("history");
    let lastSeq = initial.seq;  // the highest event seq this page shows
    let balanceSeq = initial.seq;
    const chart = consoleCharts.balanceChart(document.getElementById("balance-chart"),
      { ...initial.series, decimals: initial.decimals, symbol: initial.symbol });

    function showBalance(message) {
      document.getElementById("total").textContent = fmt(message.total_balance);
      document.getElementById("locked").textContent = fmt(message.locked_balance);
      document.getElementById("available").textContent = fmt(message.available_balance);
    }

    showBalance(initial);
    for (const message of initial.history.slice().reverse()) prepend(history, feedItem(message, fmt, { withVault: false }), 200);
    new Stream(() => [{ action: "subscribe", vault: initial.vault, last_seq: lastSeq }], (message) => {
      if (message.vault !== initial.vault) return;
      if (message.type === "balance_update") {
        if (typeof message.seq === "number" && message.seq < balanceSeq) return;  // older than what is shown
        balanceSeq = message.seq ?? balanceSeq;
        showBalance(message);
        if (chart) chart.push(message.timestamp || Math.floor(Date.now() / 1000), message.total_balance, message.locked_balance);
      } else if (EVENT_TYPES.has(message.type)) {
        if (typeof message.seq === "number") {
          if (message.seq <= lastSeq) return;  // already shown (replay boundary)
          lastSeq = message.seq;
          document.getElementById("seq").textContent = eventNumber(lastSeq);
        }
        prepend(history, feedItem(message, fmt, { withVault: false }), 200);
      }
    });
  }

  global.livePages = { index: index, vault: vault, formatter: formatter };
})(window);
