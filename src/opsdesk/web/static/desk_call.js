// "Call the desk" on the Calls page: the microphone to the voice desk's WebSocket (…/voice/ws, signed in by the
// session cookie) as 8 kHz PCM16, the desk's 20 ms frames played back through a jitter buffer, a keypad for DTMF,
// hang-up, and a status line; when the call ends, the calls list fetches itself again with the new call in it.
// The sound work is desk_audio.js, on the audio thread (desk_worklet.js) or, without AudioWorklet, a ScriptProcessor.
(function () {
  "use strict";
  var panel = document.querySelector("[data-desk-call]");
  if (!panel || !window.DeskAudio) { return; }
  var status = panel.querySelector("[data-call-status]");
  var start = panel.querySelector("[data-call-start]");
  var hangup = panel.querySelector("[data-call-hangup]");
  var keys = Array.prototype.slice.call(panel.querySelectorAll("[data-key]"));
  var HANGUP_WAIT_MS = 5000;  // after "hang up", how long the desk has to say the call ended before we just close
  var call = null;

  function show(state, text) {
    panel.setAttribute("data-call-state", state);
    status.textContent = text;
  }

  function controls(live) {
    start.disabled = live;
    hangup.disabled = !live;
    keys.forEach(function (key) { key.disabled = !live; });
  }

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + panel.getAttribute("data-socket");
  }

  // The microphone into `send` (Int16Array frames), and `play` for the desk's frames: on the audio thread when the
  // browser has AudioWorklet, else a ScriptProcessor on this one. `heard` reports what was played, in ms.
  async function soundPath(context, stream, send, heard) {
    var source = context.createMediaStreamSource(stream);
    if (context.audioWorklet && window.AudioWorkletNode) {
      await context.audioWorklet.addModule(panel.getAttribute("data-dsp"));
      await context.audioWorklet.addModule(panel.getAttribute("data-worklet"));
      var capture = new AudioWorkletNode(context, "desk-capture", {numberOfOutputs: 1});
      var player = new AudioWorkletNode(context, "desk-player", {numberOfInputs: 0, outputChannelCount: [1]});
      capture.port.onmessage = function (event) { send(new Int16Array(event.data)); };
      player.port.onmessage = function (event) { heard(event.data.played / 8); };
      source.connect(capture);
      capture.connect(context.destination);  // silent: it writes no output, but a node must be pulled to run
      player.connect(context.destination);
      panel.setAttribute("data-sound", "worklet");
      return {
        play: function (buffer) { player.port.postMessage(buffer, [buffer]); },
        flush: function () { player.port.postMessage("flush"); }
      };
    }
    var down = new window.DeskAudio.Downsampler(context.sampleRate);
    var buffer = new window.DeskAudio.JitterBuffer(context.sampleRate, 60, 500);
    var node = context.createScriptProcessor(1024, 1, 1);
    node.onaudioprocess = function (event) {
      down.push(event.inputBuffer.getChannelData(0)).forEach(send);
      buffer.pull(event.outputBuffer.getChannelData(0));
      heard(buffer.played / 8);
    };
    source.connect(node);
    node.connect(context.destination);
    panel.setAttribute("data-sound", "script-processor");
    return {
      play: function (data) { buffer.push(new Int16Array(data)); },
      flush: function () { buffer.flush(); }
    };
  }

  function refreshList() {
    var list = document.getElementById("calls-list");
    if (!list || !window.htmx) { return; }
    var url = window.location.pathname + window.location.search;
    window.htmx.ajax("GET", url, {target: "#calls-list", select: "#calls-list", swap: "outerHTML"}).then(function () {
      panel.setAttribute("data-list-refreshed", String(Date.now()));
    });
  }

  function finish(current, state, text) {
    if (current.ended) { return; }
    current.ended = true;
    window.clearTimeout(current.hangupTimer);
    show(state, text);
    controls(false);
    if (current.stream) { current.stream.getTracks().forEach(function (track) { track.stop(); }); }
    if (current.context) { current.context.close().catch(function () { /* already closed */ }); }
    if (current.socket && current.socket.readyState <= WebSocket.OPEN) { current.socket.close(1000); }
    if (call === current) { call = null; }
    if (current.started) { start.focus(); refreshList(); }
  }

  function onMessage(current, event) {
    if (typeof event.data !== "string") {
      current.frames += 1;
      panel.setAttribute("data-frames-in", String(current.frames));
      if (current.sound) { current.sound.play(event.data); }
      return;
    }
    var message;
    try { message = JSON.parse(event.data); } catch (ignored) { return; }
    if (message.event === "started") {
      current.started = true;
      panel.setAttribute("data-call-id", message.call_id);
      show("in-call", "In call with the desk. Speak, or key numbers on the keypad.");
      controls(true);
    } else if (message.event === "transfer") {
      finish(current, "transferred",
        "Transferred to a person (" + message.reason + "): the summary is in the operator inbox. The call has ended.");
    } else if (message.event === "hangup") {
      finish(current, "ended", "Call ended: " + message.reason + ".");
    }
  }

  function onClose(current, event) {
    if (current.ended) { return; }
    if (!current.started) {  // the handshake was refused (403) or the server is not reachable
      var why = event.code === 1006 ? "refused or unreachable" : "closed " + event.code;
      finish(current, "failed", "The desk did not take the call (" + why + "). Reload the page and try again.");
    } else {
      finish(current, "ended", "Call ended: the connection closed.");
    }
  }

  async function begin() {
    if (call) { return; }
    var current = {socket: null, context: null, stream: null, sound: null, started: false, ended: false,
                   frames: 0, sent: 0, hangupTimer: 0};
    call = current;
    start.disabled = true;
    panel.removeAttribute("data-call-id");
    show("connecting", "Asking for the microphone…");
    try {
      current.stream = await navigator.mediaDevices.getUserMedia(
        {audio: {channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true}});
    } catch (problem) {
      finish(current, "failed",
        "The microphone is not available (" + (problem.name || problem) + "): allow it for this site and try again.");
      return;
    }
    try {
      current.context = new AudioContext({latencyHint: "interactive"});
      await current.context.resume();
      current.sound = await soundPath(current.context, current.stream, function (frame) {
        if (current.started && !current.ended && current.socket.readyState === WebSocket.OPEN) {
          current.socket.send(frame.buffer);
          current.sent += 20;
          if (current.sent % 1000 === 0) { panel.setAttribute("data-sent-ms", String(current.sent)); }
        }
      }, function (ms) { panel.setAttribute("data-heard-ms", String(Math.round(ms))); });
    } catch (problem) {
      finish(current, "failed", "Sound could not start in this browser (" + (problem.name || problem) + ").");
      return;
    }
    if (current.ended) { return; }
    show("connecting", "Connecting to the desk…");
    current.socket = new WebSocket(socketUrl());
    current.socket.binaryType = "arraybuffer";
    current.socket.addEventListener("message", function (event) { onMessage(current, event); });
    current.socket.addEventListener("close", function (event) { onClose(current, event); });
    hangup.disabled = false;
  }

  function end() {
    var current = call;
    if (!current || current.ended) { return; }
    if (!current.started || current.socket.readyState !== WebSocket.OPEN) {
      finish(current, "ended", "Call cancelled.");
      return;
    }
    show("ending", "Hanging up…");
    hangup.disabled = true;
    if (current.sound) { current.sound.flush(); }
    current.socket.send(JSON.stringify({hangup: true}));
    // The desk answers with its `hangup` event once the call is on record; without one, close anyway.
    current.hangupTimer = window.setTimeout(function () { finish(current, "ended", "Call ended."); }, HANGUP_WAIT_MS);
  }

  function press(key) {
    var current = call;
    if (!current || !current.started || current.ended || current.socket.readyState !== WebSocket.OPEN) { return; }
    current.socket.send(JSON.stringify({dtmf: key}));
    var pressed = Number(panel.getAttribute("data-keys-sent") || "0") + 1;
    panel.setAttribute("data-keys-sent", String(pressed));
  }

  start.addEventListener("click", begin);
  hangup.addEventListener("click", end);
  keys.forEach(function (button) {
    button.addEventListener("click", function () { press(button.getAttribute("data-key")); });
  });
  // Keys typed on the keyboard while the panel has focus are keyed too (Enter and Space still press the focused key).
  panel.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !/^[0-9*#]$/.test(event.key)) { return; }
    if (call && call.started) { event.preventDefault(); press(event.key); }
  });
  window.addEventListener("pagehide", function () { if (call) { finish(call, "ended", "Call ended."); } });
  controls(false);
})();
