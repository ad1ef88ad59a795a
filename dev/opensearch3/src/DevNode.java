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

import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.Version;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.PluginInfo;

/**
 * A real OpenSearch 3.3 node for development and tests, started in-process from the jars that
 * Maven Central publishes (no tarball, no Docker). Same engine as the distribution, minus the
 * security plugin and the bootstrap checks. See /work/shared/opensearch-dev-node.md.
 * The same launcher as dev/opensearch/src/DevNode.java (2.19) except for what 3.x changed: the
 * modules' classes are named *ModulePlugin, and Node's protected constructor takes PluginInfos
 * instead of classes. Runs on a JDK 21+ (tested: Temurin 25); scripts/services.sh finds it.
 *
 * Usage: java -cp 'classes:lib/*' DevNode key=value ...
 *   path.home       (required) node folder; config/ data/ logs/ modules/ plugins/ are created in it
 *   node.name       default: node-0
 *   cluster.name    default: saesplade-dev
 *   http.port       default: 9200
 *   transport.port  default: 9300
 *   logger.level    default: info (the log goes to stdout; scripts/services.sh redirects it)
 *   discovery.seed_hosts + cluster.initial_cluster_manager_nodes (comma lists) for a multi-node
 *   cluster; without them the node runs with discovery.type=single-node.
 * Any other key=value is passed to the node as a setting. indices.query.bool.max_clause_count is
 * deliberately left at its default (1024): the product has to stay within it.
 */
public final class DevNode extends Node {

    /** The modules the product needs, loaded by name: a missing one is a hard error. */
    static final String[] PLUGINS = {
        "org.opensearch.transport.Netty4ModulePlugin",         // HTTP + transport
        "org.opensearch.index.mapper.MapperExtrasModulePlugin", // rank_features, rank_feature query
        "org.opensearch.analysis.common.CommonAnalysisModulePlugin", // english analyzer, stemmers
        "org.opensearch.index.reindex.ReindexModulePlugin",    // _reindex
    };

    DevNode(Environment env, Collection<PluginInfo> plugins) {
        super(env, plugins, true);
    }

    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
        // no-op: the distribution's bootstrap wires this for its log pattern; not needed here
    }

    /** One PluginInfo per module class (3.x's Node takes descriptors, not classes). */
    static Collection<PluginInfo> loadPlugins() {
        List<PluginInfo> found = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : PLUGINS) {
            try {
                Class.forName(name).asSubclass(Plugin.class);
                found.add(new PluginInfo(name, "classpath module " + name, "NA", Version.CURRENT, "21", name, null,
                    Collections.emptyList(), false));
            } catch (ClassNotFoundException | ClassCastException e) {
                missing.add(name + " (" + e + ")");
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("OpenSearch module class(es) not on the classpath: " + missing
                + "; rebuild dev/opensearch3/lib with ENGINE=opensearch-3 scripts/services.sh install");
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
            if (e.getKey().equals("discovery.seed_hosts") || e.getKey().equals("cluster.initial_cluster_manager_nodes")) {
                b.putList(e.getKey(), v.split(","));
            } else {
                b.put(e.getKey(), v);
            }
        }
        Settings settings = b.build();

        LogConfigurator.registerErrorListener();
        LogConfigurator.configureWithoutConfig(settings);

        Collection<PluginInfo> plugins = loadPlugins();
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
