"""The lab's Functions host reads an app package as the real host does, and NCRONTAB
schedules name the times Microsoft's docs give for them."""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import unittest
import zipfile
from pathlib import Path

from swarmlab.azure import functions_host, ncrontab
from swarmlab.azure.identity import Identities

APP = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "azure-test-app"
T = datetime.datetime(2026, 12, 2, 14, 37, 12, tzinfo=datetime.timezone.utc)


class Schedules(unittest.TestCase):
    def test_ncrontab_names_the_documented_times(self) -> None:
        for text, want in [
            ("0 */5 * * * *", datetime.datetime(2026, 12, 2, 14, 40, 0, tzinfo=datetime.timezone.utc)),
            ("*/10 * * * * *", datetime.datetime(2026, 12, 2, 14, 37, 20, tzinfo=datetime.timezone.utc)),
            ("0 30 9 * * 1-5", datetime.datetime(2026, 12, 3, 9, 30, 0, tzinfo=datetime.timezone.utc)),
            ("0 0 0 1 1 *", datetime.datetime(2027, 1, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)),
            ("0 0 12 * * Sun", datetime.datetime(2026, 12, 6, 12, 0, 0, tzinfo=datetime.timezone.utc)),
            ("00:01:00", datetime.datetime(2026, 12, 2, 14, 38, 12, tzinfo=datetime.timezone.utc)),
        ]:
            with self.subTest(text=text):
                self.assertEqual(ncrontab.parse(text).next_after(T), want)

    def test_what_is_not_ncrontab_is_refused(self) -> None:
        for text in ["*/5 * * * *", "61 * * * * *", "* * * * * 8", "*/0 * * * * *", "00:00:00"]:
            with self.subTest(text=text):
                with self.assertRaises(ncrontab.ScheduleError):
                    ncrontab.parse(text)


class Packages(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        os.environ["SWARMLAB_RUN_DIR"] = self.tmp.name
        self.ident = Identities().create("app")

    def tearDown(self) -> None:
        os.environ.pop("SWARMLAB_RUN_DIR", None)
        self.tmp.cleanup()

    def zipped(self, files: dict[str, str]) -> Path:
        path = Path(self.tmp.name) / "app.zip"
        with zipfile.ZipFile(path, "w") as z:
            for name, text in files.items():
                z.writestr(name, text)
        return path

    def test_a_zip_package_loads_its_functions(self) -> None:
        files = {p.relative_to(APP).as_posix(): p.read_text() for p in APP.rglob("*") if p.is_file()}
        app = functions_host._load("zipped", self.zipped(files), self.ident)
        self.assertEqual(sorted(app.functions), ["echo", "fails", "hello", "often", "yearly"])
        self.assertEqual(app.functions["echo"].kind, "queueTrigger")
        self.assertEqual(app.queues["maxDequeueCount"], 3)

    def test_bad_packages_are_refused_with_the_reason(self) -> None:
        host = json.dumps({"version": "2.0", "customHandler": {"description": {"defaultExecutablePath": "handler"}}})
        for files, reason in [
            ({"x/function.json": "{}"}, "host.json"),
            ({"host.json": json.dumps({"version": "1.0"})}, "version"),
            ({"host.json": host}, "no function"),
            ({"host.json": host, "f/function.json": json.dumps({"bindings": [{"type": "blobTrigger", "name": "b"}]})},
             "not blobTrigger"),
            ({"host.json": host, "f/function.json": json.dumps({"bindings": [{"type": "queueTrigger", "name": "m"}]})},
             "queueName"),
            ({"host.json": host, "../evil": "x"}, "outside the app"),
            ({"host.json": json.dumps({"version": "2.0", "customHandler": {
                "description": {"defaultExecutablePath": "h"}, "enableForwardingHttpRequest": True}})}, "is on"),
        ]:
            with self.subTest(reason=reason):
                with self.assertRaises(functions_host.AppError) as caught:
                    functions_host._load("bad", self.zipped(files), self.ident)
                self.assertIn(reason, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
