import sys

line = "x" * 1023 + "\n"
for _ in range(1 << 20):  # 1 GiB
    sys.stdout.write(line)
