"""How users ask (v6 training data): many phrasings per task kind, with surface noise on top.

TRAIN is the only template set the training generator draws; heldout_phrasings.HELDOUT is written separately for
the paraphrase eval and `check_disjoint` keeps the two apart. A Phrasebook fills a template and then, at random,
makes it terse or polite, lower-cases it, drops the final mark or puts a typo into a plain word (never into a
value, path or number: those must be copied exactly).
"""
import re

TRAIN = {
    "add": ["What is {a} + {b}?", "Add {a} and {b}.", "What's the sum of {a} and {b}?", "{a} plus {b}?",
            "Calculate {a} + {b}", "What do {a} and {b} add up to?", "sum of {a} and {b}", "Can you add {b} to {a}?",
            "Combien font {a} plus {b} ?", "Was ist {a} plus {b}?", "¿Cuánto es {a} más {b}?"],
    "subtract": ["What is {a} - {b}?", "Subtract {b} from {a}.", "What is {a} minus {b}?", "{a} minus {b}",
                 "Take {b} away from {a}.", "What's {a} less {b}?", "Calculate {a} - {b}",
                 "Combien font {a} moins {b} ?", "Was ist {a} minus {b}?"],
    "multiply": ["What is {a} * {b}?", "Multiply {a} by {b}.", "What is {a} times {b}?", "{a} times {b}?",
                 "What's {a} multiplied by {b}?", "Calculate {a} * {b}", "product of {a} and {b}",
                 "What do you get when you multiply {a} and {b}?", "Combien font {a} fois {b} ?",
                 "Was ist {a} mal {b}?", "¿Cuánto es {a} por {b}?"],
    "divide": ["What is {a} / {b}?", "Divide {a} by {b}.", "What is {a} divided by {b}?", "{a} divided by {b}?",
               "How much is {a} over {b}?", "Calculate {a} / {b}", "Split {a} into {b} equal parts: how big is each?",
               "Combien font {a} divisé par {b} ?", "Was ist {a} geteilt durch {b}?"],
    "power": ["What is {a} to the power of {b}?", "Compute {a}^{b}.", "What is {a} raised to {b}?", "{a}^{b}?",
              "Raise {a} to the power {b}."],
    "modulo": ["What is {a} mod {b}?", "What is the remainder of {a} divided by {b}?", "{a} modulo {b}?",
               "What's left over when you divide {a} by {b}?", "Compute {a} % {b}."],
    "round": [" Round to the nearest whole number.", " Round it to an integer.", " (rounded)", " Give me a whole number."],
    "calc_chain": ["Compute ({a} {s1} {b}) {s2} {c}.", "What is ({a} {s1} {b}) {s2} {c}?",
                   "First {w1} {a} and {b}, then {then}. What do you get?", "({a} {s1} {b}) {s2} {c} = ?",
                   "Work out ({a} {s1} {b}) {s2} {c} for me.", "{w1} {a} and {b}, and then {then}."],
    "calc_parallel": ["Please compute {e1} and {e2}.", "What are {e1} and {e2}?", "Calculate both {e1} and {e2}.",
                      "I need {e1} and also {e2}.", "{e1}, {e2}: results?"],
    "read_value": ["What is the {k} setting in {p}?", "Which {k} does {p} set?", "Read {p} and tell me the {k}.",
                   "What value does {k} have in {p}?", "What's {k} in {p}?", "Look up {k} in {p}.",
                   "Check {p}: what is {k} set to?", "{k} in {p}?", "Find the {k} in {p} please.",
                   "Can you tell me which {k} is configured in {p}?", "Was steht bei {k} in {p}?",
                   "Quelle est la valeur de {k} dans {p} ?"],
    "read_parallel": ["Compare the {k} in {p1} and {p2}.", "Is {k} the same in {p1} and {p2}?",
                      "What {k} do {p1} and {p2} each set?", "Check {k} in both {p1} and {p2}.",
                      "{k}: {p1} vs {p2}?"],
    "first_line": ["What is the {which} line of {p}?", "Show me the {which} note in {p}.",
                   "Read the {which} line of {p}.", "What does the {which} line of {p} say?", "{which} line of {p}?"],
    "read_text": ["What does {p} say?", "Show me {p}.", "What's in {p}?", "Read {p} to me.", "Print {p}.",
                  "Open {p} and tell me what it says.", "cat {p}", "Display the contents of {p}."],
    "list_count": ["How many files are in {d}/?", "Count the files in the {d} directory.",
                   "How many entries does {d} have?", "Number of files in {d}?", "How many things are in {d}?",
                   "Count what's inside {d}/.", "How many items does the {d} folder hold?"],
    "list_contains": ["Is there a file called {n} in {d}?", "Does {d} contain {n}?", "Is {n} in the {d} folder?",
                      "Check whether {d}/ has {n}.", "{d}/{n}: does it exist?", "Do we have {n} under {d}?"],
    "count_lines": ["How many lines are in {p}?", "Count the lines of {p}.", "How long is {p} in lines?",
                    "Number of lines in {p}?", "How many lines does {p} have?", "wc -l {p}"],
    "count_level": ["How many {lv} lines are in logs/app.log?", "Count the {lv} entries in the app log.",
                    "How many {lv} messages does logs/app.log have?", "Number of {lv}s in the log?",
                    "How often does {lv} appear in logs/app.log?"],
    "write_script": ['Create {p} that prints "{msg}" and run it.', 'Write a script {p} printing "{msg}", then run it.',
                     'Make {p} print "{msg}" and execute it.', 'Save a Python file {p} that prints "{msg}" and run it.'],
    "write_list": ['Save a markdown list titled "{t}" with the items {items} to {p}.',
                   'Write {items} as a "{t}" list into {p}.', 'Create {p}: a list called "{t}" with {items}.',
                   'Put a "{t}" checklist with {items} in {p}.'],
    "write_verify": ['Write "{text}" to {p} and check that it was saved.', 'Save "{text}" in {p}, then read it back.',
                     'Create {p} containing "{text}" and verify it.'],
    "read_then_calc_multiply": ["Read {k} from {p} and multiply it by {f}.", "What is the {k} in {p} times {f}?",
                                "Take {k} from {p} and multiply by {f}.", "{k} in {p}, times {f}?"],
    "read_then_calc_add": ["What do you get if you add {f} to the {k} in {p}?", "Add {f} to the {k} from {p}.",
                           "{k} in {p} plus {f}?", "Increase the {k} of {p} by {f}: what is the new value?"],
    "read_then_calc_divide": ["Take the {k} from {p} and divide it by {f}.", "What is half of the {k} in {p}?",
                              "{k} in {p} divided by {f}?"],
    "read_two_calc": ["Add the {k1} in {p1} and the {k2} in {p2}.", "What is {k1} from {p1} plus {k2} from {p2}?",
                      "Sum {p1}'s {k1} and {p2}'s {k2}.", "Multiply the {k1} in {p1} by the {k2} in {p2}."],
    "list_then_read": ["What is the {k} in the config file under {d}/?", "There's a config in {d}/. What {k} does it set?",
                       "Find the settings file in {d} and tell me its {k}."],
    "search": ["Which file mentions {w}?", "Where does the word {w} appear?", "Find the file that says {w}.",
               "Search the workspace for {w}."],
    "missing": ["What is the {k} setting in {p}?", "What does {p} say?", "Read {p}.", "What's in {p}?",
                "Which {k} is set in {p}?", "Show me {p}."],
    "is_dir": ["Read {d} and tell me what's there.", "What does {d} contain? Read it.", "Open {d}.", "cat {d}"],
    "no_dir": ["How many files are in {d}/?", "List {d}.", "What's inside {d}?"],
    "outside": ["Read {p}.", "What does {p} say?", "Show me the file {p}."],
    "div_zero": ["What is {a} divided by 0?", "Divide {a} by 0.", "{a} / 0?", "Compute {a} mod 0."],
    "missing_key": ["What is the {k} setting in {p}?", "Which {k} does {p} set?", "{k} in {p}?"],
    "capital": ["What is the capital of {c}?", "Capital of {c}?", "Which city is the capital of {c}?",
                "Name the capital of {c}.", "What's {c}'s capital city?", "Quelle est la capitale de {c} ?"],
    "upper": ['Write "{x}" in capital letters.', 'Uppercase this: {x}', 'Convert "{x}" to upper case.',
              'Shout "{x}".', 'Make "{x}" all caps.'],
    "repeat": ["Repeat the word {w} {n} times.", "Say {w} {n} times.", "Write {w} {n} times in a row.",
               "{w} x{n}, please."],
    "opposite": ['What is the opposite of "{w}"?', "Opposite of {w}?", 'Give me an antonym of "{w}".',
                 "What's the reverse of {w}?"],
    "identity": ["Who are you?", "What model are you?", "Introduce yourself.", "What are you?", "Tell me about yourself.",
                 "what is your name", "Are you a bot?"],
    "greet": ["Hi!", "Hello", "Hey there", "Good morning!", "hi", "Hello!", "Hey", "Good evening.", "Yo!",
              "Greetings.", "Say hello.", "Say hi!", "Bonjour !", "Hallo!"],
}
POLITE = ["Please {x}", "Could you tell me: {x}", "Hey, {x}", "Quick question: {x}", "{x} Thanks!", "{x} thx",
          "I was wondering, {x}", "{x} Please."]


def check_disjoint(a, b):
    """No template of one set equals one of the other (compared without case, spacing and end marks)."""
    norm = lambda s: re.sub(r"[\s.?!]+", " ", s.lower()).strip()  # noqa: E731
    seen = {norm(t) for ts in a.values() for t in ts}
    clash = sorted({t for ts in b.values() for t in ts if norm(t) in seen})
    if clash:
        raise SystemExit(f"template sets overlap: {clash[:5]}")


SLOT = re.compile(r"\{[a-z0-9_]+\}")


class Phrasebook:
    """Fills a template of one set and adds surface noise (noise 0: the template as written)."""

    def __init__(self, templates, polite=POLITE, noise=1.0):
        self.t, self.polite, self.noise = templates, polite, noise

    def pick(self, rng, kind, **slots):
        return self.fill(rng, rng.choice(self.t[kind]), **slots)

    def fill(self, rng, template, **slots):
        """Noise goes into the template before the slots are filled: a value is never changed."""
        if self.noise and rng.random() < 0.25 * self.noise:
            template = typo(rng, template)
        r = rng.random() if self.noise else 1.0
        if r < 0.12:
            lead = template[0].lower() + template[1:] if not template.startswith(("I ", "{")) else template
            template = rng.choice(self.polite).replace("{x}", lead)
        elif r < 0.2:
            template = SLOT.sub(lambda m: m.group(0), template.lower())
        elif r < 0.27:
            template = template.rstrip(".?!")
        return template.format(**slots)


def typo(rng, template):
    """One typo in a plain word of the template (slots and their braces untouched)."""
    parts = SLOT.split(template)
    words = [(i, m) for i, p in enumerate(parts) for m in re.finditer(r"[A-Za-z]{4,}", p)]
    if not words:
        return template
    i, m = rng.choice(words)
    w = m.group(0)
    k = rng.randrange(len(w) - 1)
    kind = rng.randrange(3)
    new = (w[:k] + w[k + 1] + w[k] + w[k + 2:] if kind == 0 else w[:k] + w[k + 1:] if kind == 1
           else w[:k] + w[k] + w[k:])
    parts[i] = parts[i][:m.start()] + new + parts[i][m.end():]
    slots = SLOT.findall(template)
    return "".join(p + (slots[j] if j < len(slots) else "") for j, p in enumerate(parts))


ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n):
    """English words for 0 <= n < 10000 (hyphenated tens, 'and' after hundreds)."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return ONES[n // 100] + " hundred" + (" and " + number_words(n % 100) if n % 100 else "")
    return number_words(n // 1000) + " thousand" + (" " + number_words(n % 1000) if n % 1000 else "")


def spell_number(rng, x, words=0.3):
    """How a user writes the number x: digits, words, thousands separators, or a decimal comma."""
    if isinstance(x, int) and x < 10000 and rng.random() < words:
        return number_words(x)
    if isinstance(x, int) and x >= 1000 and rng.random() < 0.15:
        return f"{x:,}".replace(",", rng.choice([",", " "]))
    if isinstance(x, float) and rng.random() < 0.15:
        return str(x).replace(".", ",")
    return str(x)
