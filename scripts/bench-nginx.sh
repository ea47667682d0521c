# Sourced by the benchmark scripts (bench.sh, bench-pair.sh): the nginx they
# measure against, one worker serving a 600-byte file on 127.0.0.1:PORT
# (keep-alive, sendfile; TLS when given the ssl part of a listen line), and
# an OTLP sink on 127.0.0.1:SINK that answers 200 and discards the body: a
# second nginx of its own (DIR/sink.conf), as a collector is a process of its
# own. (Served by the measured worker, each export request of 512 spans held
# up the benchmark's requests behind it: a cost no traced app pays.)
#   bench_nginx_conf DIR PORT SINK [TLS]   writes DIR/nginx.conf, DIR/sink.conf and DIR/www
#   bench_port                             prints a first port (it and the next three are used)
#   bench_tls DIR                          makes a self-signed certificate in DIR, prints the
#                                          ssl part of a listen line that serves it

# Below the ephemeral range (32768-): a new connection per request leaves
# thousands of those ports in TIME_WAIT, where a listener could not bind.
bench_port() { echo $((10000 + RANDOM % 20000)); }

bench_tls() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$1/key.pem" -out "$1/cert.pem" \
    -subj /CN=localhost 2>/dev/null
  echo " ssl; ssl_certificate $1/cert.pem; ssl_certificate_key $1/key.pem"
}

bench_nginx_conf() {
  local dir=$1 port=$2 sink=$3 tls=${4:-} name
  mkdir -p "$dir/www"; head -c 600 /dev/zero | tr '\0' x > "$dir/www/index.html"
  for name in nginx sink; do
    mkdir -p "$dir/$name-tmp"
    cat > "$dir/$name.conf" <<CONF
worker_processes 1;
pid $dir/$name.pid;
error_log $dir/$name-error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; keepalive_requests 1000000;
  client_body_temp_path $dir/$name-tmp; proxy_temp_path $dir/$name-tmp;
  fastcgi_temp_path $dir/$name-tmp; uwsgi_temp_path $dir/$name-tmp; scgi_temp_path $dir/$name-tmp;
  client_max_body_size 64m;
$(if [ "$name" = nginx ]; then
    echo "  server { listen 127.0.0.1:$port$tls; root $dir/www; }"
  else
    echo "  server { listen 127.0.0.1:$sink; location / { return 200; } }"
  fi)
}
CONF
  done
}
