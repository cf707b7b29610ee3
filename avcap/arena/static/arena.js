// avcap arena vote page: fetch a matchup, show it, send the vote, repeat. No framework, no CDN.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="arena-csrf"]').content;
  const $ = (id) => document.getElementById(id);
  const arena = $("arena"), video = $("video"), status = $("status");
  const buttons = Array.from(document.querySelectorAll(".buttons button"));
  let current = null, busy = false, votes = 0;

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Arena-CSRF": csrf},
      body: JSON.stringify(body),
    }).then(async (r) => {
      const data = await r.json().catch(() => ({error: "HTTP " + r.status}));
      if (!r.ok) throw new Error(data.error || "HTTP " + r.status);
      return data;
    });
  }

  function setBusy(value) {
    busy = value;
    buttons.forEach((b) => { b.disabled = value || current === null; });
  }

  function show(m) {
    current = m;
    if (m.done) {
      current = null;
      arena.dataset.state = "done";
      $("done").hidden = false;
      status.textContent = votes ? votes + " votes sent." : "";
      video.removeAttribute("src");
      return;
    }
    arena.dataset.state = "ready";
    arena.dataset.matchup = m.matchup;
    $("left-text").textContent = m.left;
    $("right-text").textContent = m.right;
    if (video.getAttribute("src") !== m.video) {
      video.src = m.video;
      video.load();
    }
    status.textContent = (votes ? votes + " votes sent · " : "") + m.remaining + " more pairs after this one.";
  }

  function next() {
    setBusy(true);
    arena.dataset.state = "loading";
    return post("/api/next", {}).then(show).catch((e) => {
      arena.dataset.state = "error";
      status.textContent = "Could not load a pair: " + e.message;
    }).finally(() => setBusy(false));
  }

  function vote(answer) {
    if (busy || current === null) return;
    setBusy(true);
    post("/api/vote", {matchup: current.matchup, answer: answer}).then((r) => {
      votes = r.votes;
      current = null;
      return next();
    }).catch((e) => {
      status.textContent = "Vote not saved: " + e.message;
      setBusy(false);
    });
  }

  buttons.forEach((b) => b.addEventListener("click", () => vote(b.dataset.answer)));
  const keys = {"1": "left", "ArrowLeft": "left", "2": "right", "ArrowRight": "right",
                "3": "tie", "t": "tie", "T": "tie", "4": "bad", "b": "bad", "B": "bad"};
  // Capture phase: the video's own controls would otherwise take the arrow keys to seek.
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " ") {
      e.preventDefault();
      if (video.paused) video.play(); else video.pause();
    } else if (keys[e.key]) {
      e.preventDefault();
      vote(keys[e.key]);
    }
  }, true);
  next();
})();
