"""Random small workspaces (a config file, notes, a log, a few source and data directories) for one task.

Everything is drawn from a `random.Random`, so a seed gives the same files byte for byte.
"""

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "oscar",
         "peggy", "trent", "victor", "wendy", "zoe"]
WORDS = ["apple", "river", "stone", "cloud", "maple", "tiger", "amber", "cedar", "delta", "ember", "frost",
         "glade", "harbor", "iris", "juniper", "kite", "lotus", "meadow", "north", "orbit", "pixel", "quartz",
         "raven", "solar", "thistle", "umber", "velvet", "willow", "xenon", "yarrow", "zephyr", "copper"]
CONFIG_FILES = ["config.ini", "settings.conf", "app.env", "deploy/prod.env", "etc/server.conf"]
SRC_FILES = ["main.py", "util.py", "parser.py", "server.py", "client.py", "models.py", "db.py", "cli.py",
             "config.py", "auth.py", "cache.py", "jobs.py"]
DATA_FILES = ["users.csv", "orders.csv", "prices.csv", "events.csv", "items.csv", "scores.csv", "stock.csv"]
DOC_FILES = ["intro.md", "setup.md", "api.md", "faq.md", "changelog.md", "design.md"]
TEST_FILES = ["test_main.py", "test_util.py", "test_parser.py", "test_server.py", "test_db.py"]
NOTE_LINES = ["Buy milk and bread", "Call the plumber on Monday", "Review the pull request from {n}",
              "Backup the database before Friday", "Renew the TLS certificate", "Water the plants",
              "Send the report to {n}", "Fix the flaky test in ci", "Book a meeting room for {n}",
              "Update the README", "Check disk usage on the build server", "Plan the team lunch",
              "Rotate the API keys", "Clean up old branches", "Write release notes for v{v}"]
LOG_EVENTS = {"INFO": ["server started on port {p}", "worker {k} ready", "request served in {k}ms",
                       "cache warmed", "user {n} logged in"],
              "WARN": ["slow query took {k}ms", "retrying connection to db", "disk usage at {k}%"],
              "ERROR": ["connection refused by db", "timeout after {k}s", "failed to parse request",
                        "worker {k} crashed"]}


def config_values(rng):
    return {
        "port": str(rng.choice([80, 443, 3000, 5000, 5432, 6379, 8000, 8080, 8443, 9000, 9090])
                    + rng.choice([0, 0, 0, 1, 2])),
        "host": rng.choice(["localhost", "0.0.0.0", "db.internal", "10.0.0." + str(rng.randint(2, 250)),
                            "api.example.com"]),
        "timeout": str(rng.choice([5, 10, 15, 30, 45, 60, 90, 120])),
        "retries": str(rng.randint(0, 9)),
        "mode": rng.choice(["production", "staging", "development", "test"]),
        "region": rng.choice(["eu-west-1", "us-east-1", "ap-south-1", "us-west-2", "eu-central-1"]),
        "user": rng.choice(NAMES),
        "log_level": rng.choice(["debug", "info", "warning", "error"]),
        "max_workers": str(rng.choice([1, 2, 4, 8, 12, 16, 32, 64])),
        "cache_size": str(rng.choice([64, 128, 256, 512, 1024, 2048])),
        "version": f"{rng.randint(0, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "theme": rng.choice(["dark", "light", "solarized", "mono"]),
    }


def fill(rng, template):
    return template.format(n=rng.choice(NAMES).capitalize(), v=f"{rng.randint(1, 5)}.{rng.randint(0, 9)}",
                           p=rng.choice([8080, 9000, 3000]), k=rng.randint(1, 99))


def python_source(rng, name):
    fn = rng.choice(WORDS)
    return (f'"""The {name[:-3]} module."""\n\n\ndef {fn}(x):\n    return x * {rng.randint(2, 9)}\n\n\n'
            f'if __name__ == "__main__":\n    print({fn}({rng.randint(1, 20)}))\n')


def csv_text(rng):
    rows = ["id,name,value"] + [f"{i},{rng.choice(WORDS)},{rng.randint(1, 999)}" for i in range(1, rng.randint(3, 8))]
    return "\n".join(rows) + "\n"


def make_workspace(rng):
    """Returns (files, facts): files maps path -> text; facts holds what tasks ask about."""
    files, facts = {}, {"config": {}, "dirs": {}}
    for path in rng.sample(CONFIG_FILES, 2):
        values = config_values(rng)
        keys = rng.sample(list(values), rng.randint(4, 7))
        files[path] = "".join(f"{k}={values[k]}\n" for k in keys)
        facts["config"][path] = {k: values[k] for k in keys}
    notes = [fill(rng, t) for t in rng.sample(NOTE_LINES, rng.randint(2, 7))]
    files["notes.txt"] = "\n".join(notes) + "\n"
    facts["notes"] = notes
    levels = [rng.choice(["INFO", "INFO", "INFO", "WARN", "ERROR"]) for _ in range(rng.randint(4, 14))]
    log = [f"2026-11-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
           f"{rng.randint(0, 59):02d} {lv} {fill(rng, rng.choice(LOG_EVENTS[lv]))}" for lv in levels]
    files["logs/app.log"] = "\n".join(log) + "\n"
    facts["log"] = log
    for directory, pool, maker in (("src", SRC_FILES, python_source), ("data", DATA_FILES, lambda r, n: csv_text(r)),
                                   ("docs", DOC_FILES, lambda r, n: f"# {n[:-3].title()}\n\nTODO\n"),
                                   ("tests", TEST_FILES, lambda r, n: "def test_ok():\n    assert True\n")):
        if rng.random() < 0.2 and directory != "src":
            continue
        names = sorted(rng.sample(pool, rng.randint(1, min(6, len(pool)))))
        for n in names:
            files[f"{directory}/{n}"] = maker(rng, n)
        facts["dirs"][directory] = names
    return files, facts
