"""The spec's byte-exact console transcripts, in one place for the tests and the tour."""

CONNECTED = "Redis client connected to the server"
NOT_CONNECTED_PREFIX = "Redis client not connected to the server: "

REDIS_OP = [CONNECTED, "School", "Reply: OK", "100"]

SCHOOLS_HASH = (
    "{'Portland': '50', 'Seattle': '80', 'New York': '20', "
    "'Bogota': '20', 'Cali': '40', 'Paris': '2'}"
)
ADVANCED_OP_FIRST_RUN = [CONNECTED] + ["Reply: 1"] * 6 + [SCHOOLS_HASH]
ADVANCED_OP_SECOND_RUN = [CONNECTED] + ["Reply: 0"] * 6 + [SCHOOLS_HASH]

PUBLISHER = [
    CONNECTED,
    "About to send Holberton Student #1 starts course",
    "About to send Holberton Student #2 starts course",
    "About to send KILL_SERVER",
    "About to send Holberton Student #3 starts course",
]
SUBSCRIBER = [
    CONNECTED,
    "Holberton Student #1 starts course",
    "Holberton Student #2 starts course",
    "KILL_SERVER",
]


def transcript(lines):
    """The exact stdout of a script that prints these lines."""
    return "".join(f"{line}\n" for line in lines)
