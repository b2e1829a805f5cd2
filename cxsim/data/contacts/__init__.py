"""Contact logs and CRM exports in: mappings, reading with located errors, the canonical table.

``read_contacts(path, mapping)`` reads a contact log (an ACD, CRM or ticketing export) through
a mapping (``cxsim/data/contacts/mappings/*.yaml`` by name, or the user's own YAML file) into
the canonical contact table of :mod:`cxsim.data.contacts.canonical`; ``read_table`` reads
survey, customer and roster exports the same way; ``write_contacts`` writes the canonical
table (what ``read_contacts(path)`` reads back bit for bit). See ``docs/contact_logs.md``.
"""

from cxsim.data.contacts.canonical import OUTCOMES, TABLES, Calendar, ContactLog
from cxsim.data.contacts.contacts import read_contacts
from cxsim.data.contacts.mapcheck import load_mapping
from cxsim.data.contacts.mapping import Mapping, shipped
from cxsim.data.contacts.read import read_table
from cxsim.data.contacts.write import write_contacts

__all__ = ["OUTCOMES", "TABLES", "Calendar", "ContactLog", "Mapping", "load_mapping",
           "read_contacts", "read_table", "shipped", "write_contacts"]
