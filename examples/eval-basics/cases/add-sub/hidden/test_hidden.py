import unittest

import calc


class HiddenTest(unittest.TestCase):
    def test_sub(self) -> None:
        self.assertEqual(calc.sub(5, 3), 2)
        self.assertEqual(calc.sub(0, 4), -4)


if __name__ == "__main__":
    unittest.main()
