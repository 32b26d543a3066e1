"""``.. animation:: module:function`` — an animation drawn at build time, shown in a frame player.

The function is called with an output path and writes an animated GIF (the docs' drawing
functions use matplotlib's PillowWriter). The directive splits that GIF into PNG frames, keeping
each frame's duration, and shows them in a small player (``_static/player.js``): play/pause, step
back and forward, a slider and a frame counter ("3 / 12"); the buttons are real ``<button>``\\ s and
space / arrow keys work while the player has the focus. A reader who asked for less motion
(``prefers-reduced-motion: reduce``) gets it paused on the finished picture (``:poster:``); without
JavaScript the first frame is shown as a plain image. A GIF cannot be paused, stepped or stopped
for a reader who asked for less motion: that is why it is not shown as it is.

Options: ``:alt:`` (required) describes the animation for everyone who cannot see it; ``:poster:``
is the frame (1-based) a reduced-motion reader starts on, the last by default (the sliding-window
animations end on the finished output); ``:width:`` caps the player's width (CSS length). The
content is the caption, as in ``.. figure::``.

GIFs and their frames are written to ``_generated/`` in the source tree (git-ignored) and redrawn
when missing or older than the drawing module (or a figure module it imports, or, for a translated
edition, the figure catalogues: ``figure_depends.figure_sources``), so an incremental build does not
redraw them all. Each edition has
GIFs of its own (``kernels-anim_conv.gif``, ``kernels-anim_conv-zh_TW.gif``): the animations draw
their words in the language being built (:mod:`figures.i18n`), and so does the player (its labels
are written into the HTML, where ``player.js`` reads them). Outside HTML (the doctest builder)
``docs/conf.py`` replaces the directive with one that draws nothing.

The figures' matplotlib settings (:func:`figures.grammar.rc`: sizes, colours, real SVG text and the
edition's font) are applied around every animation, and handed to the plot directive as
``plot_rcparams``: it resets matplotlib before each figure (``plot_apply_rcparams``), which would
otherwise drop them for every figure but the first one drawn.
"""

from __future__ import annotations

import html
import importlib
import json
import pathlib
import posixpath
import urllib.parse

from docutils import nodes
from docutils.parsers.rst import directives
from figure_depends import figure_sources
from sphinx.util.docutils import SphinxDirective

from figures import i18n
from figures.i18n import _

# A GIF frame without a duration is shown this long (ms); browsers treat such frames alike.
DEFAULT_DURATION = 100


class animation_player(nodes.General, nodes.Element):
    """The player; its children are one image node per frame (so Sphinx copies every frame)."""


def split_frames(gif: pathlib.Path, out_dir: pathlib.Path) -> dict:
    """Write every frame of `gif` as ``<stem>-NN.png`` into `out_dir`; return the manifest.

    The manifest (also written as ``frames.json``, last, so it marks a complete split) lists the
    frame files, their durations in ms and the frames' size in pixels. Frames are written whole
    (Pillow composes a GIF's partial frames onto the previous ones as it seeks).
    """
    from PIL import Image, ImageSequence

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    files, durations = [], []
    with Image.open(gif) as im:
        size = im.size
        count = getattr(im, "n_frames", 1)
        digits = max(2, len(str(count)))
        for index, frame in enumerate(ImageSequence.Iterator(im)):
            name = f"{gif.stem}-{index + 1:0{digits}d}.png"
            rgb = frame.convert("RGB")
            if rgb.getcolors(256) is not None:  # at most 256 colours (a GIF frame): a palette PNG, exact
                rgb = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=256, dither=Image.Dither.NONE)
            rgb.save(out_dir / name, optimize=True)
            files.append(name)
            durations.append(int(frame.info.get("duration") or DEFAULT_DURATION))
    manifest = {"source": gif.name, "width": size[0], "height": size[1], "frames": files, "durations": durations}
    (out_dir / "frames.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def frames_of(gif: pathlib.Path) -> tuple[pathlib.Path, dict]:
    """The frames of `gif` (split again when the GIF is newer than its frames)."""
    out_dir = gif.with_suffix("")
    manifest_file = out_dir / "frames.json"
    if manifest_file.exists() and manifest_file.stat().st_mtime >= gif.stat().st_mtime:
        manifest = json.loads(manifest_file.read_text())
        if all((out_dir / name).exists() for name in manifest["frames"]):
            return out_dir, manifest
    return out_dir, split_frames(gif, out_dir)


class Animation(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {
        "alt": directives.unchanged_required,
        "width": directives.length_or_percentage_or_unitless,
        "poster": directives.positive_int,
    }

    def run(self):
        target = self.arguments[0]
        module_name, _, func_name = target.partition(":")
        if not func_name or not self.options.get("alt", "").strip():
            raise self.error(f"animation: use `.. animation:: module:function` with an :alt: option; got {target!r}")
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
        out_dir = pathlib.Path(self.env.srcdir, "_generated")
        out_dir.mkdir(exist_ok=True)
        language = i18n.language()
        suffix = "" if language == "en" else f"-{language}"  # one GIF per edition
        gif = out_dir / f"{module_name.rsplit('.', 1)[-1]}-{func_name}{suffix}.gif"
        depends = figure_sources([module_name.rsplit(".", 1)[-1]], language) or [pathlib.Path(module.__file__)]
        newest = max(path.stat().st_mtime for path in depends)
        if not gif.exists() or gif.stat().st_mtime < newest:
            _draw(func, gif, language)
        for path in depends:
            self.env.note_dependency(str(path))
        frame_dir, manifest = frames_of(gif)
        count = len(manifest["frames"])
        poster = self.options.get("poster", count)
        if poster > count:
            raise self.error(f"animation: :poster: must be a frame number from 1 to {count}; got {poster}")

        player = animation_player(
            alt=self.options["alt"].strip(),
            durations=manifest["durations"],
            poster=poster,
            width=manifest["width"],
            height=manifest["height"],
            max_width=self.options.get("width"),
        )
        self.set_source_info(player)
        rel_dir = frame_dir.relative_to(pathlib.Path(self.env.srcdir)).as_posix()
        for name in manifest["frames"]:
            # An absolute (source-root) path: Sphinx's image collector registers it and the HTML
            # builder copies it to _images/ like any figure.
            player += nodes.image(uri=f"/{rel_dir}/{name}", alt=self.options["alt"].strip())

        figure = nodes.figure(classes=["convops-animation"])
        self.set_source_info(figure)
        figure += player
        if self.content:
            body = nodes.Element()
            self.state.nested_parse(self.content, self.content_offset, body)
            first = body[0] if len(body) else None
            if isinstance(first, nodes.paragraph):
                caption = nodes.caption(first.rawsource, "", *first.children)
                caption.source, caption.line = first.source, first.line
                figure += caption
                rest = body[1:]
            else:
                rest = body[:]
            if rest:
                figure += nodes.legend("", *rest)
        return [figure]


def _draw(func, gif: pathlib.Path, language: str) -> None:
    """``func(gif)`` with the figures' matplotlib settings of `language` (restored afterwards)."""
    import matplotlib

    from figures import grammar

    with matplotlib.rc_context():
        matplotlib.rc_file_defaults()
        grammar.apply(language)
        func(gif)


def _figure_rcparams(app, config) -> None:
    """The plot directive's settings for every figure: the figures' own, in the edition's language."""
    from figures import grammar

    config.plot_rcparams = {**grammar.rc(config.language or "en"), **config.plot_rcparams}


_ICONS = {  # 16×16 glyphs drawn in the text colour; the buttons' names are their aria-labels
    "prev": '<path d="M3 2h2v12H3zM14 2v12L6 8z"/>',
    "next": '<path d="M11 2h2v12h-2zM2 2v12l8-6z"/>',
    "play": '<path d="M4 2v12l10-6z"/>',
    "pause": '<path d="M3 2h4v12H3zM9 2h4v12H9z"/>',
}


def _icon(name: str) -> str:
    return (
        f'<svg class="convops-player-icon convops-player-icon-{name}" viewBox="0 0 16 16" width="16" '
        f'height="16" aria-hidden="true" focusable="false" fill="currentColor">{_ICONS[name]}</svg>'
    )


def _visit_player_html(self, node):
    uris = []
    for image in node.findall(nodes.image):
        uri = image["uri"]
        if uri in self.builder.images:
            uri = posixpath.join(self.builder.imgpath, urllib.parse.quote(self.builder.images[uri]))
        uris.append(uri)
    count = len(uris)
    attr = html.escape
    width = node.get("max_width") or ""
    if width and width[-1].isdigit():
        width += "px"  # a bare number, as in .. figure:: :width: 400
    style = f' style="max-width: {attr(width)}"' if width else ""
    first = uris[0]
    # The frames' alt text, which Sphinx has translated in the Chinese edition (the player's own copy
    # of the option is the English).
    alt = next((image["alt"] for image in node.findall(nodes.image) if image.get("alt")), node["alt"])
    # The words player.js writes as it plays (the toggle's two states, the slider's value, the
    # player's own name) are data attributes here, in the edition's language.
    frame_text = _("frame {frame} of {count}")
    words = {
        "play-label": _("Play"),
        "play-title": _("Play (space)"),
        "pause-label": _("Pause"),
        "pause-title": _("Pause (space)"),
        "frame-text": frame_text,
        "roledescription": _("animation player"),
        "label": _("Animation, {count} frames: space plays or pauses, arrow keys step").format(count=count),
    }
    data = "".join(f' data-{key}="{attr(value)}"' for key, value in words.items())
    controls = attr(_("Animation controls"))
    prev, prev_title = attr(_("Previous frame")), attr(_("Previous frame (left arrow)"))
    play, play_title = attr(words["play-label"]), attr(words["play-title"])
    next_, next_title = attr(_("Next frame")), attr(_("Next frame (right arrow)"))
    slider, slider_text = attr(_("Frame")), attr(frame_text.format(frame=1, count=count))
    self.body.append(
        f'<div class="convops-player" data-frames="{attr(json.dumps(uris))}" '
        f'data-durations="{attr(",".join(str(d) for d in node["durations"]))}" data-poster="{node["poster"]}"'
        f"{data}{style}>\n"
        f'<img class="convops-player-frame" src="{attr(first)}" alt="{attr(alt)}" '
        f'width="{node["width"]}" height="{node["height"]}" />\n'
        # Hidden until player.js starts: without JavaScript the first frame stands alone.
        f'<div class="convops-player-controls" role="group" aria-label="{controls}" hidden>\n'
        f'<button type="button" class="convops-player-prev" aria-label="{prev}" '
        f'title="{prev_title}">{_icon("prev")}</button>\n'
        f'<button type="button" class="convops-player-toggle" aria-label="{play}" title="{play_title}">'
        f"{_icon('play')}{_icon('pause')}</button>\n"
        f'<button type="button" class="convops-player-next" aria-label="{next_}" '
        f'title="{next_title}">{_icon("next")}</button>\n'
        f'<input type="range" class="convops-player-slider" min="1" max="{count}" value="1" step="1" '
        f'aria-label="{slider}" aria-valuetext="{slider_text}" />\n'
        f'<span class="convops-player-counter">1 / {count}</span>\n'
        f"</div>\n</div>\n"
    )
    raise nodes.SkipNode


def _visit_player_other(self, node):
    # Other writers show the first frame only (a static figure with its alt text).
    node[0].walkabout(self)
    raise nodes.SkipNode


def setup(app):
    app.add_node(
        animation_player,
        html=(_visit_player_html, None),
        text=(_visit_player_other, None),
        latex=(_visit_player_other, None),
        man=(_visit_player_other, None),
        texinfo=(_visit_player_other, None),
    )
    app.add_directive("animation", Animation)
    app.connect("config-inited", _figure_rcparams)
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}
