// The sound side of "Call the desk" (Calls page): the microphone's samples down to the desk's 8 kHz 16-bit PCM in
// 20 ms frames, and the desk's 8 kHz frames back up to the sound card's rate through a small jitter buffer. Plain
// code with no page in it: loaded by the page (the ScriptProcessor fallback) and by the AudioWorklet (desk_worklet.js).
(function (scope) {
  "use strict";
  var RATE = 8000;  // the desk's rate, both ways
  var FRAME = 160;  // 20 ms at 8 kHz

  function toInt16(value) {
    var clamped = Math.max(-1, Math.min(1, value));
    return Math.round(clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff);
  }

  // A windowed-sinc low-pass (Blackman) under 8 kHz's Nyquist, so what is above 4 kHz does not fold into the voice:
  // flat to 2.5 kHz, half amplitude at 3.4 kHz, down more than 60 dB from 4.5 kHz, whatever the input rate.
  function lowPass(inRate, step) {
    var cutoff = 3400 / inRate;  // cycles per input sample
    var half = Math.max(8, Math.ceil(12 * step));
    var n = 2 * half + 1;
    var taps = new Float32Array(n);
    var sum = 0;
    for (var i = 0; i < n; i++) {
      var k = i - half;
      var sinc = k === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * k) / (Math.PI * k);
      var weight = 0.42 - 0.5 * Math.cos(2 * Math.PI * i / (n - 1)) + 0.08 * Math.cos(4 * Math.PI * i / (n - 1));
      taps[i] = sinc * weight;
      sum += taps[i];
    }
    for (var j = 0; j < n; j++) { taps[j] /= sum; }
    return taps;
  }

  // Any rate >= 8 kHz in (Float32 samples as Web Audio gives them), Int16Array frames of 20 ms at 8 kHz out. The
  // filter is only worked out where an output sample falls (the two input samples around it, interpolated).
  function Downsampler(inRate) {
    this.step = inRate / RATE;  // input samples per output sample
    this.taps = lowPass(inRate, this.step);
    this.ring = new Float32Array(this.taps.length);  // the last input samples, newest at `at - 1`
    this.at = 0;
    this.phase = 0;  // where the next output sample falls after the newest input sample but one, in input samples
    this.frame = new Int16Array(FRAME);
    this.filled = 0;
  }

  Downsampler.prototype.filtered = function (newest) {
    var taps = this.taps, ring = this.ring, n = taps.length, acc = 0, j = newest;
    for (var k = 0; k < n; k++) {
      acc += taps[k] * ring[j];
      j = j === 0 ? n - 1 : j - 1;
    }
    return acc;
  };

  Downsampler.prototype.push = function (input) {
    var frames = [];
    var n = this.ring.length;
    for (var i = 0; i < input.length; i++) {
      var newest = this.at;
      this.ring[newest] = input[i];
      this.at = newest + 1 === n ? 0 : newest + 1;
      if (this.phase <= 1) {  // output instants between the previous input sample and this one
        var current = this.filtered(newest);
        var previous = this.filtered(newest === 0 ? n - 1 : newest - 1);
        while (this.phase <= 1) {
          this.frame[this.filled++] = toInt16(previous + (current - previous) * this.phase);
          if (this.filled === FRAME) {
            frames.push(this.frame);
            this.frame = new Int16Array(FRAME);
            this.filled = 0;
          }
          this.phase += this.step;
        }
      }
      this.phase -= 1;
    }
    return frames;
  };

  // The desk's 8 kHz frames in (as they arrive), samples at the output rate out (as the sound card asks). Playing
  // starts once `targetMs` is buffered and starts again that way after running dry, so late frames make a pause rather
  // than crackle; more than `limitMs` queued (a stalled tab) drops the oldest, so the desk is never heard late.
  function JitterBuffer(outRate, targetMs, limitMs) {
    this.step = RATE / outRate;
    this.ring = new Float32Array(RATE * 2);
    this.read = 0;
    this.write = 0;
    this.count = 0;
    this.target = Math.round(RATE * (targetMs || 60) / 1000);
    this.limit = Math.round(RATE * (limitMs || 500) / 1000);
    this.playing = false;
    this.phase = 0;
    this.played = 0;  // 8 kHz samples played, for the page's "heard" counter
    this.dropped = 0;
    this.runsDry = 0;
  }

  JitterBuffer.prototype.push = function (pcm) {
    var size = this.ring.length;
    for (var i = 0; i < pcm.length; i++) {
      this.ring[this.write] = pcm[i] / 32768;
      this.write = (this.write + 1) % size;
      if (this.count === size) { this.read = (this.read + 1) % size; this.dropped++; } else { this.count++; }
    }
    if (this.count > this.limit) {
      var drop = this.count - this.target;
      this.read = (this.read + drop) % size;
      this.count -= drop;
      this.dropped += drop;
    }
  };

  JitterBuffer.prototype.pull = function (out) {
    var size = this.ring.length;
    for (var i = 0; i < out.length; i++) {
      if (!this.playing) {
        if (this.count < this.target) { out[i] = 0; continue; }
        this.playing = true;
        this.phase = 0;
      }
      if (this.count < 2) {  // ran dry: the end of an utterance, or a late frame
        this.playing = false;
        this.runsDry++;
        out[i] = 0;
        continue;
      }
      var a = this.ring[this.read], b = this.ring[(this.read + 1) % size];
      out[i] = a + (b - a) * this.phase;
      this.phase += this.step;
      while (this.phase >= 1 && this.count > 1) {
        this.phase -= 1;
        this.read = (this.read + 1) % size;
        this.count--;
        this.played++;
      }
    }
  };

  JitterBuffer.prototype.flush = function () {
    this.read = this.write;
    this.count = 0;
    this.playing = false;
  };

  scope.DeskAudio = {RATE: RATE, FRAME: FRAME, Downsampler: Downsampler, JitterBuffer: JitterBuffer, toInt16: toInt16};
})(globalThis);
