"""The spec's byte-exact console transcripts, in one place for the tests and the tour."""

CONNECTED = "Redis client connected to the server"
NOT_CONNECTED_PREFIX = "Redis client not connected to the server: "

REDIS_OP = [CONNECTED, "School", "Reply: OK", "100"]

SCHOOLS_HASH = (
    "{'Portland': '50', 'Seattle': '80', 'New York': '20', 'Bogota': '20', 'Cali': '40', 'Paris': '2'}"
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


# Tasks 6–10: the notification jobs.
SENDING = "Sending notification to {phone}, with message: {message}"
TASK6_DATA = ("4153518780", "This is the code to verify your account")
TASK8_DATA = [
    ("4153518780", "This is the code 1234 to verify your account"),
    ("4153518781", "This is the code 4562 to verify your account"),
    ("4153518743", "This is the code 4321 to verify your account"),
    ("4153538781", "This is the code 4562 to verify your account"),
    ("4153118782", "This is the code 4321 to verify your account"),
    ("4153718781", "This is the code 4562 to verify your account"),
    ("4159518782", "This is the code 4321 to verify your account"),
    ("4158718781", "This is the code 4562 to verify your account"),
    ("4153818782", "This is the code 4321 to verify your account"),
    ("4154318781", "This is the code 4562 to verify your account"),
    ("4151218782", "This is the code 4321 to verify your account"),
]
TASK10_DATA = ("4153518780", "This is the code 1234 to verify your account")
BLACKLISTED = ("4153518780", "4153518781")


def created(job_id):
    return f"Notification job created: {job_id}"


def sending(phone, message):
    return SENDING.format(phone=phone, message=message)


def task6_creator(job_id):
    return [created(job_id), "Notification job completed"]


def task7_processor():
    return [sending(*TASK6_DATA)]


def job_events(job_id, phone):
    """The creator's lines for one job processed by 7_job_processor, in their fixed order."""
    if phone in BLACKLISTED:
        return [
            f"Notification job {job_id} 0% complete",
            f"Notification job {job_id} failed: Phone number {phone} is blacklisted",
        ]
    return [
        f"Notification job {job_id} 0% complete",
        f"Notification job {job_id} 50% complete",
        f"Notification job {job_id} completed",
    ]


def task9_processor():
    """The processor's lines: one per non-blacklisted job (their order may interleave)."""
    return [sending(phone, message) for phone, message in TASK8_DATA if phone not in BLACKLISTED]


def creator_differences(lines, data, first_id):
    """How a creator's output differs from the spec (empty when it matches).

    The created lines come first, in order; then each job's events in their fixed order,
    jobs interleaving as two workers run them side by side.
    """
    ids = [str(first_id + offset) for offset in range(len(data))]
    problems = []
    head, tail = lines[: len(ids)], lines[len(ids) :]
    want_head = [created(job_id) for job_id in ids]
    if head != want_head:
        problems.append(f"created lines: expected {want_head}, got {head}")
    for job_id, (phone, _message) in zip(ids, data, strict=False):
        mine = [line for line in tail if line.startswith(f"Notification job {job_id} ")]
        if mine != job_events(job_id, phone):
            problems.append(f"job {job_id}: expected {job_events(job_id, phone)}, got {mine}")
    expected_count = sum(
        len(job_events(job_id, phone)) for job_id, (phone, _) in zip(ids, data, strict=False)
    )
    if len(tail) != expected_count:
        problems.append(f"expected {expected_count} event lines, got {len(tail)}: {tail}")
    return problems


def processor_differences(lines, expected):
    """A processor's lines may come in any order across its workers, but all and only these."""
    if sorted(lines) != sorted(expected):
        return [f"expected (in any order) {expected}, got {lines}"]
    return []


# Task 12: the stock app's bodies (compact JSON, no trailing newline).
PRODUCTS = (
    '[{"itemId":1,"itemName":"Suitcase 250","price":50,"initialAvailableQuantity":4},'
    '{"itemId":2,"itemName":"Suitcase 450","price":100,"initialAvailableQuantity":10},'
    '{"itemId":3,"itemName":"Suitcase 650","price":350,"initialAvailableQuantity":2},'
    '{"itemId":4,"itemName":"Suitcase 1050","price":550,"initialAvailableQuantity":5}]'
)
PRODUCT_NOT_FOUND = '{"status":"Product not found"}'


def product_1(current_quantity):
    return (
        '{"itemId":1,"itemName":"Suitcase 250","price":50,'
        f'"initialAvailableQuantity":4,"currentQuantity":{current_quantity}}}'
    )


def reservation_confirmed(item_id):
    return f'{{"status":"Reservation confirmed","itemId":{item_id}}}'


def not_enough_stock(item_id):
    return f'{{"status":"Not enough stock available","itemId":{item_id}}}'


# Task 13: the seat app's bodies and lines.
RESERVATION_IN_PROCESS = '{"status":"Reservation in process"}'
RESERVATION_BLOCKED = '{"status":"Reservation are blocked"}'
RESERVATION_FAILED = '{"status":"Reservation failed"}'
QUEUE_PROCESSING = '{"status":"Queue processing"}'
NO_SEAT = "Not enough seats available"


def available_seats(count):
    return f'{{"numberOfAvailableSeats":"{count}"}}'


def seat_completed(job_id):
    return f"Seat reservation job {job_id} completed"


def seat_failed(job_id):
    return f"Seat reservation job {job_id} failed: {NO_SEAT}"
