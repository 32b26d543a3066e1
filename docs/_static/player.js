/* The frame player of `.. animation::` (docs/_ext/animation.py): play/pause, step, slider, counter.
 *
 * Each .convops-player holds the first frame as an <img> (all a reader without JavaScript sees),
 * its frames' URLs (data-frames, JSON), their durations in ms (data-durations) and the frame a
 * reader who asked for less motion starts on (data-poster, 1-based). This script shows the
 * controls and plays the frames, looping, each for its own duration, except under
 * `prefers-reduced-motion: reduce`, where it starts paused on the poster frame. Keys, while the
 * player or one of its controls has the focus: space plays/pauses, left/right arrows step,
 * Home/End go to the first/last frame. Stepping or dragging the slider pauses.
 *
 * The words it writes come from the player's data attributes, in the page's language (written by
 * the directive from docs/locales/<language>/LC_MESSAGES/figures/animation.po): data-play-label,
 * data-play-title, data-pause-label, data-pause-title, data-frame-text ("frame {frame} of {count}"),
 * data-roledescription and data-label; English when one is missing.
 */
(function () {
  "use strict";

  function init(root) {
    var img = root.querySelector(".convops-player-frame");
    var controls = root.querySelector(".convops-player-controls");
    var frames = JSON.parse(root.getAttribute("data-frames") || "[]");
    var durations = (root.getAttribute("data-durations") || "").split(",").map(Number);
    var n = frames.length;
    if (!img || !controls || n < 2) {
      return;
    }
    var toggle = controls.querySelector(".convops-player-toggle");
    var prev = controls.querySelector(".convops-player-prev");
    var next = controls.querySelector(".convops-player-next");
    var slider = controls.querySelector(".convops-player-slider");
    var counter = controls.querySelector(".convops-player-counter");
    var words = {
      playLabel: root.getAttribute("data-play-label") || "Play",
      playTitle: root.getAttribute("data-play-title") || "Play (space)",
      pauseLabel: root.getAttribute("data-pause-label") || "Pause",
      pauseTitle: root.getAttribute("data-pause-title") || "Pause (space)",
      frameText: root.getAttribute("data-frame-text") || "frame {frame} of {count}",
      roledescription: root.getAttribute("data-roledescription") || "animation player",
      label: root.getAttribute("data-label") ||
        "Animation, " + n + " frames: space plays or pauses, arrow keys step"
    };
    var poster = Math.min(Math.max(parseInt(root.getAttribute("data-poster"), 10) || n, 1), n) - 1;
    var current = 0;
    var playing = false;
    var timer = null;

    // Fetch every frame now, so that playing never waits for the network.
    frames.forEach(function (src) {
      var preload = new Image();
      preload.src = src;
    });

    function show(k) {
      current = ((k % n) + n) % n;
      img.src = frames[current];
      slider.value = String(current + 1);
      slider.setAttribute("aria-valuetext",
        words.frameText.replace("{frame}", String(current + 1)).replace("{count}", String(n)));
      counter.textContent = (current + 1) + " / " + n;
      root.setAttribute("data-frame", String(current + 1));
    }

    function tick() {
      timer = window.setTimeout(function () {
        show(current + 1);
        tick();
      }, durations[current] > 0 ? durations[current] : 100);
    }

    function setPlaying(on) {
      playing = on;
      window.clearTimeout(timer);
      timer = null;
      toggle.setAttribute("aria-label", on ? words.pauseLabel : words.playLabel);
      toggle.title = on ? words.pauseTitle : words.playTitle;
      root.classList.toggle("is-playing", on);
      root.setAttribute("data-playing", on ? "true" : "false");
      // Announce the frame number when a reader steps, not at every frame of a playing animation.
      counter.setAttribute("aria-live", on ? "off" : "polite");
      if (on) {
        tick();
      }
    }

    function step(by) {
      setPlaying(false);
      show(current + by);
    }

    toggle.addEventListener("click", function () { setPlaying(!playing); });
    prev.addEventListener("click", function () { step(-1); });
    next.addEventListener("click", function () { step(1); });
    slider.addEventListener("input", function () {
      setPlaying(false);
      show(parseInt(slider.value, 10) - 1);
    });

    root.addEventListener("keydown", function (event) {
      var target = event.target;
      var onButton = target.tagName === "BUTTON";
      var onSlider = target === slider;
      if (event.altKey || event.ctrlKey || event.metaKey) {
        return;
      }
      if (event.key === " " || event.key === "Spacebar") {
        if (onButton) {
          return;  // a button's own action (the browser clicks it)
        }
        setPlaying(!playing);
      } else if (onSlider) {
        return;  // the slider moves itself with the arrows, Home and End
      } else if (event.key === "ArrowLeft") {
        step(-1);
      } else if (event.key === "ArrowRight") {
        step(1);
      } else if (event.key === "Home") {
        step(-current);
      } else if (event.key === "End") {
        step(n - 1 - current);
      } else {
        return;
      }
      event.preventDefault();
      // The site turns pages with the arrow keys (a listener on the document): not while stepping here.
      event.stopPropagation();
    });

    root.tabIndex = 0;
    root.setAttribute("role", "group");
    root.setAttribute("aria-roledescription", words.roledescription);
    root.setAttribute("aria-label", words.label);
    controls.hidden = false;
    root.classList.add("is-ready");

    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");
    if (reduce && reduce.matches) {
      show(poster);
      setPlaying(false);
    } else {
      show(0);
      setPlaying(true);
    }
    if (reduce && reduce.addEventListener) {
      reduce.addEventListener("change", function () {
        if (reduce.matches && playing) {
          setPlaying(false);
        }
      });
    }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".convops-player"), init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
