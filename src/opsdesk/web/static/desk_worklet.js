// "Call the desk" on the audio thread: desk_audio.js is added to this AudioWorklet first (its `DeskAudio` global).
// desk-capture posts the microphone as 20 ms frames of 8 kHz PCM16 (ArrayBuffers) to the page; desk-player plays the
// frames the page posts to it through the jitter buffer, and reports what it has played.
/* global AudioWorkletProcessor, registerProcessor, sampleRate, DeskAudio */
class DeskCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.down = new DeskAudio.Downsampler(sampleRate);
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (const frame of this.down.push(channel)) { this.port.postMessage(frame.buffer, [frame.buffer]); }
    }
    return true;
  }
}

class DeskPlayer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new DeskAudio.JitterBuffer(sampleRate, 60, 500);
    this.quanta = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") { this.buffer.flush(); } else { this.buffer.push(new Int16Array(event.data)); }
    };
  }

  process(inputs, outputs) {
    const out = outputs[0] && outputs[0][0];
    if (out) { this.buffer.pull(out); }
    this.quanta += 1;
    if (this.quanta % 64 === 0) {  // about 6 times a second at 48 kHz
      this.port.postMessage({played: this.buffer.played, dry: this.buffer.runsDry, dropped: this.buffer.dropped});
    }
    return true;
  }
}

registerProcessor("desk-capture", DeskCapture);
registerProcessor("desk-player", DeskPlayer);
