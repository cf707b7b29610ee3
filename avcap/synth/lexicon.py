"""The synthetic world's closed vocabulary: what exists, how it looks and sounds, how it is named.

One table serves the sampler (``world``), the renderers (``render``, ``audio``), the caption
generator (``language``) and the caption parser (``parse``), so a name can never mean one thing
on screen and another in the judge. The caption vocabulary is kept small on purpose: the
captions are the training targets of a nano captioner trained on CPU (issue 7, item 3).
"""

from __future__ import annotations

# --- things on screen -------------------------------------------------------------------------

# RGB values far apart in hue and brightness, so they stay distinct after yuv420p + H.264.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 45, 45),
    "green": (50, 190, 70),
    "blue": (60, 100, 240),
    "yellow": (240, 215, 50),
    "purple": (165, 70, 215),
    "white": (240, 240, 240),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
BACKGROUND_RGB = (22, 22, 30)
TEXT_RGB = (250, 250, 250)

# Object centres in normalised [0, 1] coordinates (x right, y down). The top strip (y < 0.25)
# is kept for on-screen text so words never overlap shapes.
PLACES: dict[str, tuple[float, float]] = {
    "left": (0.2, 0.6),
    "right": (0.8, 0.6),
    "top": (0.5, 0.34),
    "bottom": (0.5, 0.85),
    "middle": (0.5, 0.6),
}
PLACE_PHRASES: dict[str, str] = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "middle": "in the middle",
}
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
OBJECT_RADIUS = 0.085  # normalised; 11 px at 128 px, 22 px at 256 px
X_RANGE = (0.12, 0.88)  # allowed object centres
Y_RANGE = (0.32, 0.87)

# Words shown as on-screen text and spoken by the voice (one list: the model must tell
# seeing a word from hearing one).
WORDS: tuple[str, ...] = ("hello", "stop", "go", "yes", "no", "look", "wait", "run")

# --- sounds -----------------------------------------------------------------------------------

# Octaves apart, so the pitch classes are unambiguous by ear and by an FFT peak.
PITCHES_HZ: dict[str, float] = {"low": 330.0, "medium": 660.0, "high": 1320.0}
BEEP_HZ = 2000.0
BEEP_ON_S = 0.1
BEEP_OFF_S = 0.1
BANG_S = 0.25
SPEECH_SLOT_S = 0.8  # time reserved for one spoken word
COUNT_WORDS: dict[int, str] = {1: "one", 2: "two", 3: "three"}

# Event kinds in the order they are listed when two start on the same frame (visual first).
VISUAL_KINDS = ("appear", "move", "hit", "turn", "vanish", "text")
SOUND_KINDS = ("tone", "beep", "noise", "bang", "say")
EVENT_KINDS = VISUAL_KINDS + SOUND_KINDS

# --- how captions may name things (parser tolerance) --------------------------------------------
# The generator always uses the first (canonical) form; the parser accepts every form listed.

COLOUR_SYNONYMS: dict[str, str] = {c: c for c in COLOURS} | {"violet": "purple"}
SHAPE_SYNONYMS: dict[str, str] = {s: s for s in SHAPES} | {
    "ball": "circle", "disc": "circle", "disk": "circle", "dot": "circle",
    "box": "square", "rhombus": "diamond",
}
PLACE_SYNONYMS: dict[str, str] = {p: p for p in PLACES} | {"center": "middle", "centre": "middle"}
DIRECTION_SYNONYMS: dict[str, str] = {d: d for d in DIRECTIONS} | {
    "leftward": "left", "leftwards": "left", "rightward": "right", "rightwards": "right",
    "upward": "up", "upwards": "up", "downward": "down", "downwards": "down",
}
PITCH_SYNONYMS: dict[str, str] = {"low": "low", "deep": "low", "medium": "medium", "middle": "medium",
                                  "mid": "medium", "high": "high"}
COUNT_SYNONYMS: dict[str, int] = {"one": 1, "single": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
TIMES_PHRASES: dict[str, int] = {"once": 1, "one time": 1, "twice": 2, "two times": 2, "three times": 3,
                                 "thrice": 3}

APPEAR_VERBS = ("appears", "appear", "shows up", "pops up", "comes into view", "is shown", "is displayed",
                "emerges", "is written")
MOVE_VERBS = ("moves", "move", "slides", "glides", "goes", "travels", "drifts", "shifts")
HIT_VERBS = ("hits", "bumps into", "collides with", "crashes into", "runs into", "strikes", "knocks into",
             "smashes into", "hit")
TURN_VERBS = ("turns into", "turns", "becomes", "changes to", "changes into", "changes colour to",
              "changes color to", "turn")
VANISH_VERBS = ("disappears", "vanishes", "goes away", "fades away", "fades out", "is gone", "disappear")
SOUND_VERBS = ("plays", "play", "sounds", "sound", "is heard", "are heard", "can be heard", "rings", "ring",
               "is played", "are played", "goes off", "go off")
SAY_VERBS = ("says the word", "says", "speaks the word", "speaks", "said", "calls out", "shouts", "say")
SPEAKER_NOUNS = ("voice", "speaker", "person", "someone", "man", "woman")
TONE_NOUNS = ("tone", "note")
BEEP_NOUNS = ("beep", "beeps")
NOISE_PHRASES = ("burst of white noise", "burst of noise", "burst of static", "noise burst", "white noise",
                 "noise", "static", "hiss")
BANG_NOUNS = ("bang", "thud", "crash", "knock", "clang")
TEXT_NOUNS = ("word", "text")
HEAR_LEADS = ("there is", "there are", "we hear", "you hear", "you can hear", "one hears", "we can hear")
SCREEN_FILLERS = ("on screen", "on the screen", "at the top of the screen", "at the top", "in the video")
ARTICLES = frozenset({"a", "an", "the"})
# Sentence openers that only link events; position in the caption, not these words, gives order.
CONNECTIVES = ("at the same time", "after that", "after this", "soon after", "right after", "and then",
               "at that moment", "at this moment", "just then", "in the end", "at first", "to start",
               "meanwhile", "simultaneously", "afterwards", "then", "next", "first", "finally", "lastly",
               "later", "and", "also", "now")
# Manner words that carry no event information in this world; dropped anywhere in a clause.
IGNORED_WORDS = frozenset({"suddenly", "quickly", "slowly", "briefly", "loudly", "softly", "quietly",
                           "again", "then", "smoothly", "gently", "short", "pitched", "loud", "sharp"})
