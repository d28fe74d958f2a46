"""The chat's connection store, shared by the three handlers' worker processes: one empty file
per connection id in a directory (AWS's sample keeps them in a DynamoDB table). The functions'
environment variable CHAT_CONNECTIONS_DIR names it; by default a folder under the system temp
dir."""
import os
import tempfile

DIR = os.environ.get("CHAT_CONNECTIONS_DIR") or os.path.join(tempfile.gettempdir(),
                                                              "portico-chat-connections")


def _path(connection_id):
    # Connection ids are file names here: refuse anything that could leave the directory.
    if not connection_id or "/" in connection_id or connection_id.startswith("."):
        raise ValueError(f"unexpected connection id {connection_id!r}")
    return os.path.join(DIR, connection_id)


def add(connection_id):
    os.makedirs(DIR, exist_ok=True)
    open(_path(connection_id), "w").close()


def remove(connection_id):
    try:
        os.remove(_path(connection_id))
    except FileNotFoundError:
        pass


def all_ids():
    try:
        return sorted(os.listdir(DIR))
    except FileNotFoundError:
        return []
