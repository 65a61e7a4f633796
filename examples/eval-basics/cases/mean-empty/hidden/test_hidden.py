import unittest

import stats


class HiddenTest(unittest.TestCase):
    def test_mean(self) -> None:
        self.assertEqual(stats.mean([1, 2, 3]), 2)

    def test_empty(self) -> None:
        self.assertEqual(stats.mean([]), 0.0)


if __name__ == "__main__":
    unittest.main()
