import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * A real Elasticsearch 7.17 node for the engine-compatibility tests, started in-process from the
 * jars that Maven Central publishes (no tarball, no Docker). Same engine as the distribution, minus
 * x-pack and the bootstrap checks. See /work/shared/opensearch-dev-node.md.
 * The same launcher as dev/opensearch/src/DevNode.java with org.elasticsearch packages, and
 * cluster.initial_master_nodes instead of cluster.initial_master_nodes. Runs on Java 17.
 *
 * Elasticsearch's analysis-common module is not on Maven Central for 7.17, so the "english" analyzer
 * (which the product's mapping uses) is registered here by EnglishAnalysisPlugin: Lucene's
 * EnglishAnalyzer with the same stop words / stem exclusion parsing as analysis-common's
 * EnglishAnalyzerProvider, so it tokenizes exactly like the distribution's "english" analyzer.
 * Nothing else of analysis-common (other languages, custom stemmer filters) is available.
 *
 * Usage: java -cp 'classes:lib/*' DevNode key=value ...
 *   path.home       (required) node folder; config/ data/ logs/ modules/ plugins/ are created in it
 *   node.name       default: node-0
 *   cluster.name    default: saesplade-dev
 *   http.port       default: 9200
 *   transport.port  default: 9300
 *   logger.level    default: info (the log goes to stdout; scripts/services.sh redirects it)
 *   discovery.seed_hosts + cluster.initial_master_nodes (comma lists) for a multi-node
 *   cluster; without them the node runs with discovery.type=single-node.
 * Any other key=value is passed to the node as a setting. indices.query.bool.max_clause_count is
 * deliberately left at its default (1024): the product has to stay within it.
 */
public final class DevNode extends Node {

    /** The modules the product needs, loaded by name: a missing one is a hard error. */
    static final String[] PLUGINS = {
        "org.elasticsearch.transport.Netty4Plugin",               // HTTP + transport
        "org.elasticsearch.index.mapper.MapperExtrasPlugin",      // rank_features, rank_feature query
        "org.elasticsearch.reindex.ReindexPlugin",                // _reindex (7.17: not under index.)
        "DevNode$EnglishAnalysisPlugin",                          // english analyzer (see above)
    };

    DevNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
        super(env, plugins, true);
    }

    /** The "english" analyzer, as analysis-common's EnglishAnalyzerProvider builds it. */
    public static final class EnglishAnalysisPlugin extends Plugin implements AnalysisPlugin {
        public EnglishAnalysisPlugin() {}

        @Override
        public Map<String, AnalysisProvider<AnalyzerProvider<? extends org.apache.lucene.analysis.Analyzer>>> getAnalyzers() {
            return Collections.singletonMap("english", EnglishProvider::new);
        }
    }

    static final class EnglishProvider extends AbstractIndexAnalyzerProvider<EnglishAnalyzer> {
        private final EnglishAnalyzer analyzer;

        EnglishProvider(IndexSettings indexSettings, Environment env, String name, Settings settings) {
            super(indexSettings, name, settings);
            analyzer = new EnglishAnalyzer(
                Analysis.parseStopWords(env, settings, EnglishAnalyzer.getDefaultStopSet()),
                Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET));
        }

        @Override
        public EnglishAnalyzer get() {
            return analyzer;
        }
    }

    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
        // no-op: the distribution's bootstrap wires this for its log pattern; not needed here
    }

    static Collection<Class<? extends Plugin>> loadPlugins() {
        List<Class<? extends Plugin>> found = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : PLUGINS) {
            try {
                found.add(Class.forName(name).asSubclass(Plugin.class));
            } catch (ClassNotFoundException | ClassCastException e) {
                missing.add(name + " (" + e + ")");
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("Elasticsearch module class(es) not on the classpath: " + missing
                + "; rebuild dev/elasticsearch7/lib with ENGINE=elasticsearch-7 scripts/services.sh install");
        }
        return found;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("node.name", "node-0");
        opts.put("cluster.name", "saesplade-dev");
        opts.put("http.port", "9200");
        opts.put("transport.port", "9300");
        // without a log4j2.properties only ERROR would reach the console; INFO makes the log useful
        opts.put("logger.level", "info");
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got: " + arg);
            }
            opts.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        String homeArg = opts.remove("path.home");
        if (homeArg == null) {
            throw new IllegalArgumentException("path.home=DIR is required");
        }
        Path home = Paths.get(homeArg).toAbsolutePath();
        for (String sub : new String[] {"config", "data", "logs", "modules", "plugins"}) {
            Files.createDirectories(home.resolve(sub));
        }

        Settings.Builder b = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        if (!opts.containsKey("discovery.seed_hosts")) {
            b.put("discovery.type", "single-node");
        }
        for (Map.Entry<String, String> e : opts.entrySet()) {
            String v = e.getValue();
            if (e.getKey().equals("discovery.seed_hosts") || e.getKey().equals("cluster.initial_master_nodes")) {
                b.putList(e.getKey(), v.split(","));
            } else {
                b.put(e.getKey(), v);
            }
        }
        Settings settings = b.build();

        LogConfigurator.registerErrorListener();
        LogConfigurator.configureWithoutConfig(settings);

        Collection<Class<? extends Plugin>> plugins = loadPlugins();
        String nodeName = settings.get("node.name");
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), home.resolve("config"), () -> nodeName);

        long t0 = System.nanoTime();
        DevNode node = new DevNode(env, plugins);
        CountDownLatch keepAlive = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                keepAlive.countDown();
            }
        }, "devnode-shutdown"));
        node.start();
        System.out.printf("DevNode %s started in %.1f s (http 127.0.0.1:%s, transport %s)%n",
            nodeName, (System.nanoTime() - t0) / 1e9, settings.get("http.port"), settings.get("transport.port"));
        keepAlive.await();
    }
}
