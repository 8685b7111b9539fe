#!/usr/bin/env bash
# Checks Cargo.lock (and fuzz/Cargo.lock) against a local copy of the RustSec advisory database with
# cargo-audit, offline: vulnerabilities and unsound crates fail (see
# .cargo/audit.toml for the ignore list and its reasons); unmaintained and
# yanked crates are printed only.
#
# The database is a plain tree of files (no git history needed):
#   TSMEDIA_ADVISORY_DB if set, else ../shared/advisory-db beside the repository.
# Its date comes from the file DB.SNAPSHOT beside it (the first YYYY-MM-DD in
# it), else from the newest advisory in the tree. Older than 180 days: a
# warning. No database: an error under CI=true, else a note and exit 0.
#
# Online, `cargo audit` in the repository checks against the newest database
# instead (README.md, "Security advisories").
#
# Why cargo-audit: it opens a database folder as plain files with --no-fetch.
# cargo-deny 0.20 (`advisories` with db-path, offline) dates its database from
# .git (FETCH_HEAD, else `git show HEAD`) and looks for it in a subfolder named
# after a hash of the URL, so it cannot read a plain copy (its src/git.rs,
# get_fetch_time; src/advisories/helpers/db.rs, url_to_db_path). Debian 12 has
# no package of either tool, hence `cargo install --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The cargo-audit this check was written against (it opens a database folder
# without git metadata when given --no-fetch). Installed when missing or older.
audit_version=0.22.2
stale_days=180

db=${TSMEDIA_ADVISORY_DB:-$(pwd)/../shared/advisory-db}
if [ ! -d "$db/crates" ]; then
    msg="no RustSec advisory database at $db (a folder with crates/ in it); point TSMEDIA_ADVISORY_DB at a copy"
    if [ "${CI:-}" = true ]; then
        echo "error: $msg" >&2
        exit 1
    fi
    echo "advisories: skipped: $msg, or run \`cargo audit\` online" >&2
    exit 0
fi
db=$(cd "$db" && pwd)

# The database's date, and a warning when it is old.
date_of_db=
if [ -f "$db.SNAPSHOT" ]; then
    date_of_db=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$db.SNAPSHOT" | head -n 1 || true)
    source_of_date="$db.SNAPSHOT"
fi
if [ -z "$date_of_db" ]; then
    date_of_db=$(grep -rhoE '^date = "[0-9]{4}-[0-9]{2}-[0-9]{2}"' "$db/crates" |
        grep -oE '[0-9-]{10}' | sort | tail -n 1 || true)
    source_of_date="the newest advisory in it"
fi
if [ -z "$date_of_db" ]; then
    echo "error: cannot tell the date of the advisory database at $db" >&2
    exit 1
fi
age_days=$(( ($(date -u +%s) - $(date -u -d "$date_of_db" +%s)) / 86400 ))
echo "advisories: RustSec database of $date_of_db ($age_days days old; date from $source_of_date)"
if [ "$age_days" -gt "$stale_days" ]; then
    echo "warning: the advisory database is $age_days days old (more than $stale_days):" \
        "advisories published since $date_of_db are not checked; refresh $db" >&2
fi

# cargo-audit itself.
installed=$(cargo audit --version 2>/dev/null | awk '{print $NF}' || true)
if [ -z "$installed" ] ||
    [ "$(printf '%s\n%s\n' "$audit_version" "$installed" | sort -V | head -n 1)" != "$audit_version" ]; then
    echo "installing cargo-audit $audit_version from crates.io (about 6 minutes on two cores)"
    start=$(date +%s)
    # Without binary scanning (for built executables, unused here): fewer crates to build.
    cargo install --locked --force --quiet --no-default-features cargo-audit --version "$audit_version"
    echo "installed cargo-audit in $(( $(date +%s) - start )) s"
fi

# The check must be able to fail: a lock file with a crate of known
# vulnerabilities has to be caught with this database and tool.
canary=$(mktemp)
trap 'rm -f "$canary"' EXIT
cat >"$canary" <<'EOF'
version = 3

[[package]]
name = "smallvec"
version = "0.6.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
EOF
if canary_out=$(cargo audit --no-fetch --no-yanked --db "$db" --file "$canary" 2>&1) ||
    ! grep -q RUSTSEC-2019-0009 <<<"$canary_out"; then
    echo "error: cargo-audit with $db does not report RUSTSEC-2019-0009 for smallvec 0.6.9;" \
        "the database or the tool is broken:" >&2
    echo "$canary_out" >&2
    exit 1
fi

# The real check, with .cargo/audit.toml: the program's lock file and the
# fuzz targets' (which builds tsmedia with libFuzzer).
status=0
for lock in Cargo.lock fuzz/Cargo.lock; do
    echo "advisories: $lock"
    cargo audit --no-fetch --db "$db" --file "$lock" || status=1
done
exit "$status"
