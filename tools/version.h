/* version.h — the one place kvcheck's version is written: `--version`,
 * reports and golden files all print this. */
#ifndef KVC_VERSION_H
#define KVC_VERSION_H

#define KVC_VERSION "kvcheck 0.2"

#endif /* KVC_VERSION_H */
