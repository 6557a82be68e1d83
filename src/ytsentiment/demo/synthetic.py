"""The demo's comments: one small cooking channel, four videos, a few hundred comments and replies over eight months.

Written for this project: every text comes from the hand-written phrase bank below, combined by a seeded RNG, so
the same seed gives the same comments, ids, authors, likes and timestamps. Each comment keeps the sentiment its
phrase was written with (``DemoChannel.labels``, English comments only); the demo sends some of them to /feedback
as viewers' labels. A few comments are in other languages (the API sets them apart), some threads have more
replies than the five the API embeds (so ``comments.list`` is paged), and the most-liked comment carries markup
(``<script>alert(1)</script>``) to show that every page renders comments as text, never as HTML.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ytsentiment.demo.youtube_standin import Channel, Video

CHANNEL_ID = "UCdemoKitchenLab00000000"
HANDLE = "@demo-kitchen-lab"
END = datetime(2025, 8, 31, 23, 0, tzinfo=UTC)  # no comment is later than this
MARKUP_COMMENT = ("<script>alert(1)</script> nice try, but honestly this is the best pasta tutorial I have ever "
                  "watched, thank you!")


@dataclass(frozen=True)
class VideoPlan:
    video_id: str
    title: str
    published: datetime
    threads: int
    mood: tuple[float, float, float]  # weights of positive, neutral, negative comments
    phrases: dict[int, tuple[str, ...]]  # sentiment -> this video's phrases ({step}, {tool}, {time} filled in)
    steps: tuple[str, ...]
    tools: tuple[str, ...]


PLANS = (
    VideoPlan("demoSourdgh", "Sourdough from scratch, no fancy tools", datetime(2025, 1, 12, 15, tzinfo=UTC), 60,
              (0.6, 0.22, 0.18), {
                  1: ("Made this sourdough on Saturday and the crumb was perfect!",
                      "Best bread tutorial on YouTube, my starter is finally alive",
                      "Tried it this weekend and it worked perfectly, {step} made all the difference.",
                      "Finally someone explains {step} properly. Subscribed!",
                      "My family loved the loaf, baking it again on Sunday",
                      "Salt & pepper on a warm slice, nothing beats it <3"),
                  0: ("What flour did you use for this?", "How long does {step} take in a cold kitchen?",
                      "Can I use {tool} instead?", "Does this work with gluten free flour?",
                      "What temperature was the oven at for the first twenty minutes?"),
                  -1: ("Followed every step and the loaf still came out flat and dense.",
                       "My starter died following this, very frustrating",
                       "Sorry but {step} is just wrong, you will ruin the dough that way",
                       "The bread looked raw in the middle, not good at all")},
              ("the stretch and folds", "the overnight proof", "shaping the loaf", "feeding the starter"),
              ("a dutch oven", "a cheap kitchen scale", "a glass bowl")),
    VideoPlan("demoPastaHk", "I tried the viral 5-minute pasta hack", datetime(2025, 3, 3, 17, tzinfo=UTC), 50,
              (0.33, 0.2, 0.47), {
                  1: ("The starch water trick is genius, dinner in ten minutes!",
                      "Honestly better than I expected, the sauce was lovely",
                      "You saved my dinner tonight, thanks so much"),
                  0: ("Which pasta shape works best for this?", "Can I use {tool} instead?",
                      "How much water did you use?", "Is this the same hack from the other channel?"),
                  -1: ("This hack did not work at all, total waste of ingredients",
                       "Clickbait title, it took me 25 minutes not 5",
                       "The pasta came out gummy and bland, never again",
                       "I hate it when videos skip {step} and pretend it is easy")},
              ("boiling it in the pan", "the starch water trick", "adding the garlic late"),
              ("one big pan", "a non-stick skillet", "a microwave")),
    VideoPlan("demoKnives3", "Budget vs premium chef's knife: three months later",
              datetime(2025, 4, 22, 16, tzinfo=UTC), 45, (0.4, 0.4, 0.2), {
                  1: ("Great comparison, the budget knife held up surprisingly well",
                      "Really fair review, thanks for testing them for three months",
                      "Bought the budget one after this and I love it"),
                  0: ("Which brand is the budget knife?", "Do you use {tool} before every session?",
                      "How often do you sharpen them?", "What steel is the premium one made of?"),
                  -1: ("The premium knife is overpriced junk, mine chipped in a week",
                       "Biased review, you clearly got the expensive one for free",
                       "Terrible sharpening advice, you will ruin the edge that way")},
              ("the tomato test", "the sharpening part", "the onion test"),
              ("a honing rod", "a whetstone", "a pull-through sharpener")),
    VideoPlan("demoUpdate4", "Channel update: new schedule, a sponsor and your questions",
              datetime(2025, 6, 8, 18, tzinfo=UTC), 35, (0.25, 0.35, 0.4), {
                  1: ("Congrats on the sponsor, you deserve it!",
                      "The new schedule sounds great, see you every Friday",
                      "Thanks for answering my question in the Q&A!"),
                  0: ("What day do the new videos come out?", "Is the meal kit available in Europe?",
                      "When is the next live stream?"),
                  -1: ("Another sponsor? This channel is turning into one long ad",
                       "Sad to see fewer videos, the old schedule was much better",
                       "Too many ads, I gave up halfway")},
              ("the Q&A", "the schedule change", "the sponsor read"),
              ("the meal kit", "the new camera", "the merch")),
)
# Phrases that fit any video (a third of the comments).
GENERIC = {
    1: ("Love how calm and clear your explanations are.", "Great video as always, the editing keeps getting better",
        "Such a helpful channel, I learn something every time", "{time} was so satisfying to watch"),
    0: ("Watching from Canada", "Who else is watching this at 2am", "{time} is where it starts",
        "Is there a written version of this somewhere?"),
    -1: ("The audio is really bad in this one, hard to hear anything",
         "Disappointed, the old videos were much better", "Way too long, the actual content only starts at {time}."),
}
SUFFIXES = {1: ("", "", "", " ❤️", " 🔥", " 👍"), 0: ("", "", "", " 🤔"), -1: ("", "", "", " 😞")}
REPLIES = {
    1: ("Agreed, this one is a keeper", "Same here, it came out great", "Thanks for sharing, going to try it too",
        "Yes! Mine turned out lovely as well"),
    0: ("Check the description, it is linked there", "It is around {time}",
        "Good question, I was wondering the same", "Following for the answer"),
    -1: ("Same problem here, very frustrating", "Mine failed too, what a waste", "Yeah the audio is awful",
         "Not great this time, sadly"),
}
CREATOR_REPLIES = ("Thanks for watching, glad it helped!", "Good question: I used {tool} for this one.",
                   "Sorry about that, the next video will be better.")
# (language, text, the sentiment it was written with); the API does not score these, so no feedback is sent.
FOREIGN = (
    ("es", "¡Me encantó la receta! La hice ayer y quedó perfecta, muchas gracias.", 1),
    ("fr", "Merci beaucoup pour cette vidéo, tout est très bien expliqué.", 1),
    ("de", "Leider hat es bei mir überhaupt nicht funktioniert, der Teig war viel zu flüssig.", -1),
    ("pt", "Qual é a temperatura do forno? Não consegui ouvir no vídeo.", 0),
    ("ja", "とても分かりやすい説明でした。ありがとうございます！", 1),
    ("it", "Ricetta fantastica, la rifarò sicuramente la prossima settimana.", 1),
)
FIRST = ("maria", "tom", "aisha", "kenji", "lucas", "priya", "olga", "sam", "noah", "lena", "omar", "julia", "ravi",
         "emma", "diego", "sofia", "ben", "yuki", "anna", "leo")
SECOND = ("bakes", "cooks", "eats", "kitchen", "chef", "home", "food", "makes", "daily", "tries")


@dataclass
class DemoChannel:
    """The channel, its videos (newest first, as the uploads playlist lists them) and each English comment's
    intended sentiment (comment id -> -1/0/1)."""

    channel: Channel
    videos: list[Video]
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def n_comments(self) -> int:
        return sum(v.rows for v in self.videos)


def _authors(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` viewers as (channel id, @handle)."""
    alphabet = string.ascii_letters + string.digits + "_-"
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    while len(out) < n:
        handle = f"@{rng.choice(FIRST)}{rng.choice(SECOND)}{rng.randint(1, 99)}"
        if handle not in seen:
            seen.add(handle)
            out.append(("UC" + "".join(rng.choices(alphabet, k=22)), handle))
    return out


def _when(rng: random.Random, after: datetime) -> datetime:
    """Most comments come in the first days after ``after``, some months later; never after END."""
    hours = rng.expovariate(1 / 60) if rng.random() < 0.7 else rng.uniform(24 * 14, 24 * 150)
    return min(after + timedelta(hours=hours, minutes=rng.randint(0, 59)), END)


def _likes(rng: random.Random) -> int:
    return min(int(rng.paretovariate(1.1)) - 1, 3000)


def _stamp(rng: random.Random) -> str:
    return f"{rng.randint(0, 14)}:{rng.randint(0, 59):02d}"


def _text(rng: random.Random, plan: VideoPlan, label: int) -> str:
    phrases = plan.phrases[label] if rng.random() < 0.65 else GENERIC[label]
    text = rng.choice(phrases).format(time=_stamp(rng), step=rng.choice(plan.steps), tool=rng.choice(plan.tools))
    return text[0].upper() + text[1:] + rng.choice(SUFFIXES[label])


def demo_channel(seed: int = 7) -> DemoChannel:
    """The demo's channel, deterministic for a given ``seed``."""
    rng = random.Random(seed)
    viewers = _authors(rng, 90)
    labels: dict[str, int] = {}
    videos = []
    for plan in PLANS:
        video = Video(plan.video_id, CHANNEL_ID, title=plan.title, published_at=plan.published)
        for _ in range(plan.threads):
            label = rng.choices((1, 0, -1), weights=plan.mood)[0]
            author, name = rng.choice(viewers)
            published = _when(rng, plan.published)
            if rng.random() < 0.06:
                _lang, text, label = rng.choice(FOREIGN)
                english = False
            else:
                text, english = _text(rng, plan, label), True
            thread = video.add_thread(text, published, _likes(rng), author=author, author_name=name)
            if english:
                labels[thread] = label
            n_replies = rng.randint(6, 8) if rng.random() < 0.04 else rng.randint(1, 2) if rng.random() < 0.3 else 0
            when = published
            for _ in range(n_replies):
                when = min(when + timedelta(hours=rng.expovariate(1 / 10)), END)
                if rng.random() < 0.15:
                    reply_text, reply_label = rng.choice(CREATOR_REPLIES).format(tool=rng.choice(plan.tools)), None
                    author_id, author_name = CHANNEL_ID, HANDLE
                else:
                    reply_label = label if rng.random() < 0.75 else rng.choice((1, 0, -1))
                    reply_text = rng.choice(REPLIES[reply_label]).format(time=_stamp(rng))
                    author_id, author_name = rng.choice(viewers)
                reply = video.add_reply(thread, reply_text, when, _likes(rng) // 3, author=author_id,
                                        author_name=author_name)
                if reply_label is not None:
                    labels[reply] = reply_label
        videos.append(video)
    # The pasta video's most-liked comment: positive words around markup that must show as text everywhere.
    pasta = videos[1]
    marked = pasta.add_thread(MARKUP_COMMENT, pasta.published_at + timedelta(hours=3), 2400,
                              author=viewers[0][0], author_name=viewers[0][1])
    labels[marked] = 1
    channel = Channel(CHANNEL_ID, HANDLE, [v.video_id for v in reversed(videos)], title="Demo Kitchen Lab")
    return DemoChannel(channel, list(reversed(videos)), labels)
