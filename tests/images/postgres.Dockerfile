# PostgreSQL from Debian's packages with the interface of the official
# postgres image (docker.io/library/postgres), for the compose-mode database
# on machines that reach no registry: on an empty PGDATA the entrypoint
# initialises the cluster from POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB, then runs postgres in the foreground as the postgres user;
# pg_isready, psql, pg_dump and pg_restore are on PATH.
FROM sacred-brain/debian-systemd:bookworm
ARG PG_MAJOR=15
# No cluster from the package: the entrypoint creates one in PGDATA.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -i 's/^#\? *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:$PATH PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 0700 "$PGDATA"
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
# Fast shutdown, as in the official image.
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
