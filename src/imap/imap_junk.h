/* imap_junk: (not written yet). */
#ifndef MOAT_IMAP_JUNK_H
#define MOAT_IMAP_JUNK_H
#endif
