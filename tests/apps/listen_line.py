"""Tells the test harness which port the server got."""


def announce(config):
    print("PORT %d" % config.port, flush=True)
