"""Protected persons: people whose likeness Rempart must never let be sexualised, enrolled by
the face embeddings of their photos (never the photos) and by the names people write them."""

from rempart.errors import EnrolmentError, PersonsError, UnknownPersonError
from rempart.persons.enrol import Enrolled, enrol_photos
from rempart.persons.match import FaceMatches, PhotoMatches, match_photos
from rempart.persons.protected import (
    MAX_ALIASES,
    Person,
    PersonsSnapshot,
    ProtectedPersons,
    chosen_faces,
    clean_name,
    read_persons_file,
)

__all__ = [
    "MAX_ALIASES",
    "Enrolled",
    "EnrolmentError",
    "FaceMatches",
    "Person",
    "PersonsError",
    "PersonsSnapshot",
    "PhotoMatches",
    "ProtectedPersons",
    "UnknownPersonError",
    "chosen_faces",
    "clean_name",
    "enrol_photos",
    "match_photos",
    "read_persons_file",
]
