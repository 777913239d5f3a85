// Billion Songs: a song's tune in the browser. Plays the melody and its chords with Web
// Audio oscillators (no sound files, no other server), lights up the word being sung,
// and draws the sheet music with abcjs, served by this site, when it can be loaded.
// Nothing sounds before a click on Play. The page holds the tune as a JSON data block
// (#tune-data, see http/tunes.py): notes as [pitch, start, duration, word number], chords
// as [start, duration, [pitches]], times in beats.
(function () {
  "use strict";

  var LOOKAHEAD = 0.2; // seconds of notes scheduled ahead of the clock
  var TICK_MS = 40;

  var section = document.querySelector("[data-tune]");
  var source = document.getElementById("tune-data");
  if (!section || !source) return;
  var tune = JSON.parse(source.textContent);
  var notes = tune.notes;
  var chords = tune.chords;

  // The lyrics' words, each wrapped in a <span class="w" data-w="n">, n counted in
  // reading order: the numbers the notes carry. Left alone when the counts differ.
  var words = [];
  function wrapWords() {
    var texts = [];
    Array.prototype.forEach.call(document.querySelectorAll(".song .lyrics p"), function (p) {
      Array.prototype.forEach.call(p.childNodes, function (node) { if (node.nodeType === 3) texts.push(node); });
    });
    var count = texts.reduce(function (sum, node) {
      return sum + node.textContent.split(/\s+/).filter(Boolean).length;
    }, 0);
    if (!tune.words || count !== tune.words) return;
    texts.forEach(function (node) {
      var fragment = document.createDocumentFragment();
      node.textContent.split(/(\s+)/).forEach(function (part) {
        if (!part) return;
        if (/^\s+$/.test(part)) { fragment.appendChild(document.createTextNode(part)); return; }
        var span = document.createElement("span");
        span.className = "w";
        span.setAttribute("data-w", String(words.length));
        span.textContent = part;
        words.push(span);
        fragment.appendChild(span);
      });
      node.parentNode.replaceChild(fragment, node);
    });
  }
  wrapWords();

  var player = section.querySelector("[data-player]");
  var playButton = player.querySelector("[data-play]");
  var restartButton = player.querySelector("[data-restart]");
  var tempoInput = player.querySelector("[data-tempo]");
  var tempoOut = player.querySelector("[data-tempo-out]");
  var status = player.querySelector("[data-status]");

  var context = null;
  var master = null;
  var playing = false; // Play was clicked (the audio clock may still be starting)
  var sounding = false; // notes are being scheduled against anchorTime
  var position = 0; // beats: where the tune pauses or starts
  var anchorTime = 0; // the audio clock time at which...
  var anchorBeat = 0; // ...this beat sounds
  var rate = 1; // the tempo control, 0.5 to 1.5
  var nextNote = 0;
  var nextChord = 0;
  var voices = [];
  var timer = null;
  var frame = null;
  var lit = null;

  function secondsPerBeat() { return 60 / (tune.tempo * rate); }
  function beatAt(time) { return anchorBeat + (time - anchorTime) / secondsPerBeat(); }
  function timeOf(beat) { return anchorTime + (beat - anchorBeat) * secondsPerBeat(); }
  function frequency(pitch) { return 440 * Math.pow(2, (pitch - 69) / 12); }

  function say(text) { status.textContent = text; }

  // One tone: an oscillator through a gain envelope (quick attack, decay to a held
  // level, short release), stopped when it is done.
  function voice(pitch, start, seconds, type, level) {
    var oscillator = context.createOscillator();
    var gain = context.createGain();
    oscillator.type = type;
    oscillator.frequency.value = frequency(pitch);
    var end = start + Math.max(seconds, 0.05);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(level, start + 0.015);
    gain.gain.exponentialRampToValueAtTime(level * 0.55, start + Math.min(0.25, seconds * 0.6 + 0.02));
    gain.gain.setValueAtTime(level * 0.55, end);
    gain.gain.exponentialRampToValueAtTime(0.0001, end + 0.08);
    oscillator.connect(gain);
    gain.connect(master);
    oscillator.start(start);
    oscillator.stop(end + 0.1);
    var entry = { oscillator: oscillator, gain: gain };
    voices.push(entry);
    oscillator.onended = function () {
      var i = voices.indexOf(entry);
      if (i >= 0) voices.splice(i, 1);
      gain.disconnect();
    };
  }

  function silence() {
    var now = context.currentTime;
    voices.forEach(function (v) {
      v.gain.gain.cancelScheduledValues(now);
      v.gain.gain.setValueAtTime(0.0001, now + 0.02);
      try { v.oscillator.stop(now + 0.03); } catch (e) { /* already stopped */ }
    });
    voices = [];
  }

  function firstNoteFrom(beat) {
    var i = 0;
    while (i < notes.length && notes[i][1] < beat - 1e-6) i++;
    return i;
  }

  function firstChordFrom(beat) {
    var i = 0;
    while (i < chords.length && chords[i][0] < beat - 1e-6) i++;
    return i;
  }

  function schedule() {
    var horizon = context.currentTime + LOOKAHEAD;
    var spb = secondsPerBeat();
    while (nextNote < notes.length && timeOf(notes[nextNote][1]) < horizon) {
      var n = notes[nextNote++];
      voice(n[0], timeOf(n[1]), n[2] * spb * 0.92, "triangle", 0.3);
    }
    while (nextChord < chords.length && timeOf(chords[nextChord][0]) < horizon) {
      var c = chords[nextChord++];
      c[2].forEach(function (pitch) { voice(pitch - 12, timeOf(c[0]), c[1] * spb * 0.95, "sine", 0.05); });
    }
    if (beatAt(context.currentTime) >= tune.end) finish();
  }

  function light(number) {
    var el = words[number] || null;
    if (el === lit) return;
    if (lit) lit.classList.remove("sung");
    if (el) el.classList.add("sung");
    lit = el;
    section.setAttribute("data-word", el ? String(number) : "");
  }

  // The word of the note sounding now; none during a rest.
  function follow() {
    if (!sounding) return;
    var beat = beatAt(context.currentTime);
    var current = -1;
    for (var i = Math.max(0, nextNote - 1); i >= 0; i--) {
      if (notes[i][1] <= beat) {
        if (beat < notes[i][1] + notes[i][2]) current = notes[i][3];
        break;
      }
    }
    light(current);
    frame = window.requestAnimationFrame(follow);
  }

  function startFrom(beat) {
    anchorTime = context.currentTime + 0.05;
    anchorBeat = beat;
    nextNote = firstNoteFrom(beat);
    nextChord = firstChordFrom(beat);
    sounding = true;
    schedule();
  }

  function showPlaying() {
    playButton.textContent = playing ? "Pause" : "Play";
    playButton.setAttribute("aria-pressed", playing ? "true" : "false");
    section.setAttribute("data-state", playing ? "playing" : "paused");
  }

  function play() {
    if (!context) {
      var AudioContext = window.AudioContext || window.webkitAudioContext;
      if (!AudioContext) { say("This browser cannot play sound."); return; }
      context = new AudioContext();
      master = context.createGain();
      master.gain.value = 0.8;
      master.connect(context.destination);
      context.onstatechange = function () { section.setAttribute("data-audio", context.state); };
    }
    playing = true;
    showPlaying();
    context.resume().then(function () {
      section.setAttribute("data-audio", context.state);
      if (!playing) return;
      startFrom(position);
      timer = window.setInterval(schedule, TICK_MS);
      frame = window.requestAnimationFrame(follow);
      say("Playing");
    });
  }

  function stop() {
    window.clearInterval(timer);
    window.cancelAnimationFrame(frame);
    timer = frame = null;
    sounding = false;
    if (context) silence();
  }

  function pause() {
    if (sounding) position = Math.max(0, Math.min(beatAt(context.currentTime), tune.end));
    playing = false;
    stop();
    showPlaying();
    say("Paused");
  }

  function finish() {
    playing = false;
    stop();
    position = 0;
    light(-1);
    showPlaying();
    say("Finished");
  }

  function restart() {
    position = 0;
    light(-1);
    if (sounding) {
      silence();
      startFrom(0);
    }
    say(playing ? "Playing from the start" : "Back to the start");
  }

  function setTempo() {
    var percent = Number(tempoInput.value);
    var beat = sounding ? beatAt(context.currentTime) : position;
    rate = percent / 100;
    tempoOut.textContent = percent + "%";
    tempoInput.setAttribute("aria-valuetext", percent + "% of " + tune.tempo + " beats a minute");
    if (sounding) {
      silence();
      startFrom(beat);
    }
  }

  playButton.addEventListener("click", function () { if (playing) pause(); else play(); });
  restartButton.addEventListener("click", restart);
  tempoInput.addEventListener("input", setTempo);
  player.hidden = false; // without this script the section still offers the downloads

  // --- Sheet music: abcjs, loaded when the notation comes near the screen -------------
  var notation = section.querySelector("[data-notation]");
  var abcSource = section.querySelector("[data-abc]");
  var abcDetails = section.querySelector("[data-abc-details]");

  function draw() {
    if (!window.ABCJS) return;
    try {
      window.ABCJS.renderAbc(notation, abcSource.textContent, { add_classes: true, responsive: "resize" });
    } catch (e) { return; }
    if (notation.querySelector("svg")) {
      notation.hidden = false;
      section.setAttribute("data-notation-drawn", "true");
      if (abcDetails) abcDetails.open = false; // the text stays one click away
    }
  }

  function loadNotation() {
    if (window.ABCJS) { draw(); return; }
    var script = document.createElement("script");
    script.src = notation.getAttribute("data-src");
    script.async = true;
    script.onload = draw;
    script.onerror = function () { section.setAttribute("data-notation-drawn", "false"); };
    document.head.appendChild(script);
  }

  if (notation && abcSource) {
    if ("IntersectionObserver" in window) {
      var observer = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) {
          observer.disconnect();
          loadNotation();
        }
      }, { rootMargin: "400px" });
      observer.observe(section);
    } else {
      loadNotation();
    }
  }
})();
