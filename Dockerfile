# Touchpoint's services in one image; docker-compose.yml picks the binary per service.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/...

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY config/ /etc/touchpoint/
WORKDIR /var/lib/touchpoint
ENV TP_SITES=/etc/touchpoint/dev.json
