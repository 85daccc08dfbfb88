/* zip: (not written yet). */
#ifndef MOAT_ZIP_H
#define MOAT_ZIP_H
#endif
