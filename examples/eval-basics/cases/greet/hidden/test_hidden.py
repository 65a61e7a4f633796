import unittest

import greet


class HiddenTest(unittest.TestCase):
    def test_greet(self) -> None:
        self.assertEqual(greet.greet("Ada"), "Hello, Ada!")


if __name__ == "__main__":
    unittest.main()
