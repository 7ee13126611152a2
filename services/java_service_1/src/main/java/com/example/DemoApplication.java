package com.example;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Service 1 of the classic service-registration demo, with the JDK's own HTTP server (no
 * framework: the build is offline, so Maven Central and Spring are out of reach).
 *
 * <ul>
 *   <li>{@code GET /} answers {@code This is Service 1.}</li>
 *   <li>{@code GET /user?id=N} answers {@code It's user N.}</li>
 *   <li>{@code GET /health} answers 200 {@code OK}</li>
 * </ul>
 *
 * Requests run on a bounded thread pool; SIGTERM (docker stop) runs a shutdown hook that stops
 * accepting, lets in-flight requests finish (at most 1 s), then exits 0.
 */
public final class DemoApplication {
    private static final int DEFAULT_PORT = 8080;

    private DemoApplication() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", String.valueOf(DEFAULT_PORT)));
        int threads = Integer.parseInt(System.getenv().getOrDefault("THREADS", "8"));

        HttpServer server = HttpServer.create(new InetSocketAddress(port), 128);
        AtomicInteger counter = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(
                threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024),
                runnable -> {
                    Thread thread = new Thread(runnable, "http-" + counter.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                });
        server.setExecutor(pool);
        server.createContext("/", DemoApplication::handle);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("SIGTERM: stopping");
            server.stop(1);
            shutdown(pool);
            log("stopped");
            stopped.countDown();
            // A stop we asked for is a success: exit 0, not the JVM's 143 for SIGTERM.
            Runtime.getRuntime().halt(0);
        }, "shutdown"));

        server.start();
        log("Service 1 listening on port " + port + " with " + threads + " worker threads");
        stopped.await();
    }

    private static void shutdown(ExecutorService pool) {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(2, TimeUnit.SECONDS)) {
                pool.shutdownNow();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    static void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            if (!"GET".equals(method) && !"HEAD".equals(method)) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                send(exchange, 405, "Method not allowed.");
                return;
            }
            switch (path) {
                case "/" -> send(exchange, 200, "This is Service 1.");
                case "/health" -> send(exchange, 200, "OK");
                case "/user" -> {
                    String id = queryParam(exchange.getRequestURI().getRawQuery(), "id");
                    if (id == null || id.isEmpty()) {
                        send(exchange, 400, "Missing id.");
                    } else {
                        send(exchange, 200, "It's user " + id + ".");
                    }
                }
                default -> send(exchange, 404, "Not found.");
            }
        }
    }

    static String queryParam(String rawQuery, String name) {
        if (rawQuery == null) {
            return null;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            if (URLDecoder.decode(key, StandardCharsets.UTF_8).equals(name)) {
                return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        boolean head = "HEAD".equals(exchange.getRequestMethod());
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    private static void log(String message) {
        System.out.println("[service_1] " + message);
        System.out.flush();
    }
}
