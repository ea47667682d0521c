# Sourced by the benchmark scripts (bench.sh, bench-pair.sh): the nginx they
# measure against, one worker serving a 600-byte file on 127.0.0.1:PORT
# (keep-alive, sendfile; TLS when given the ssl part of a listen line) and
# an OTLP sink on 127.0.0.1:SINK that answers 200 and discards the body.
#   bench_nginx_conf DIR PORT SINK [TLS]   writes DIR/nginx.conf and DIR/www
bench_nginx_conf() {
  local dir=$1 port=$2 sink=$3 tls=${4:-}
  mkdir -p "$dir/www"; head -c 600 /dev/zero | tr '\0' x > "$dir/www/index.html"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; keepalive_requests 1000000;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  client_max_body_size 64m;
  server { listen 127.0.0.1:$port$tls; root $dir/www; }
  server { listen 127.0.0.1:$sink; location / { return 200; } }
}
CONF
}
