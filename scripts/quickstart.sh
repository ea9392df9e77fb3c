#!/usr/bin/env bash
# Quick start: install, migrate, provision a demo source and run TrackHub on the embedded
# default (SQLite + in-process Celery). Set DATABASE_URL / CELERY_BROKER_URL to use servers.
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything this creates is the operator's alone: the SQLite database (every event, and the
# sessions of signed-in staff), the generated secret key and the admin's password file were
# readable by every user of the machine (0644 under the usual umask 022).
umask 077
for private in trackhub.sqlite3 .trackhub-secret .trackhub-admin-password; do
  if [ -f "$private" ]; then chmod go= "$private"; fi  # made by an earlier run
done
PORT="${PORT:-8000}"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .

.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0

# A staff user for /admin/ and /dashboard/; its password is kept in a local file.
if [ ! -f .trackhub-admin-password ]; then
  .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(12))" > .trackhub-admin-password
fi
DJANGO_SUPERUSER_PASSWORD="$(cat .trackhub-admin-password)" DJANGO_SUPERUSER_USERNAME=admin \
  DJANGO_SUPERUSER_EMAIL=admin@example.com .venv/bin/python manage.py createsuperuser --noinput >/dev/null 2>&1 || true

CREDS="$(.venv/bin/python manage.py provision --org demo-organization --project demo-project --source-id 1001 --json)"
field() { .venv/bin/python -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$CREDS" "$1"; }
API_KEY="$(field api_key)"; BEARER="$(field bearer_token)"; WEBSITE="$(field website_id)"; READ="$(field read_token)"
BASE="http://127.0.0.1:${PORT}"

cat <<MSG

TrackHub is starting on ${BASE}
  dashboard: ${BASE}/dashboard/   admin: ${BASE}/admin/   (user admin, password $(cat .trackhub-admin-password))
  API docs:  ${BASE}/api/docs/

Credentials for demo-organization / demo-project / source 1001 (shown once):
  api_key=${API_KEY}
  bearer_token=${BEARER}
  website_id=${WEBSITE}
  read_token=${READ}

Send the Intempt seed's example:
  curl -X POST '${BASE}/demo-organization/projects/demo-project/sources/1001/track?apiKey=${API_KEY}' \\
    -H 'Content-Type: application/json' \\
    -d '{"track":[{"name":"Purchase","payload":[{"eventId":"generated-event-id","profileId":"generated-profile-id","userId":"custom@intempt.com","timestamp":1714631904000,"accountId":"Intempt","anotherUserId":"+111111111","anotherAccountId":"no-reply@intempt.com","data":{"amount":150,"productName":"Wine"},"userAttributes":{"location":"USA"},"accountAttributes":{"founded":2000}}]}]}'

Send the ThriveStack seed's example (with a 4-digit-year timestamp; the docs' 20-11-23 is refused):
  curl -X POST '${BASE}/api/track' \\
    -H 'Content-Type: application/json' -H 'Authorization: Bearer ${BEARER}' \\
    -d '[{"event_name":"signed_up","properties":{"email":"JohnDoe@acmelabs.com","name":"John Doe"},"user_id":"3e474abe-5943-41fd-8b7b-4c87ad95b0c7","timestamp":"2023-11-20T22:28:55.111Z","context":{"group_id":"55444abe-41fd-5943-d95b-4c87ad95b674"}}]'

Send the Databuddy seed's examples (server side with the API key, client side with the website id):
  curl -X POST '${BASE}/track' \\
    -H 'Content-Type: application/json' -H 'Authorization: Bearer ${API_KEY}' \\
    -d '{"name":"button_clicked","namespace":"ui","properties":{"button_id":"signup","page":"/pricing"},"anonymousId":"user-123","sessionId":"session-456"}'
  curl -X POST '${BASE}/track?website_id=${WEBSITE}' \\
    -H 'Content-Type: application/json' \\
    -d '{"name":"video_played","properties":{"video_id":"intro-2024","duration":120}}'

Send the Userpilot seed's example:
  curl -X POST '${BASE}/v1/track' \\
    -H 'Content-Type: application/json' -H 'Authorization: Token ${API_KEY}' \\
    -d '{"user_id":"user_789456","event_name":"schedule_appointment","metadata":{"appointment_type":"Initial Consultation","specialty":"Cardiology"}}'

Read it back:
  curl -H 'Authorization: Bearer ${READ}' ${BASE}/api/v1/events/

MSG
# gunicorn, as in production (Django's development server would answer errors with debug
# pages instead of each format's shape, and read a chunked request body as empty).
exec .venv/bin/gunicorn -c gunicorn.conf.py --bind "127.0.0.1:${PORT}" --workers "${GUNICORN_WORKERS:-2}" \
  trackhub.wsgi:application
