// Renders every *.vm file of a directory with Apache Velocity 1.7 against a fixed context and
// prints each result between markers, for portico-vtl's differential test.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;

public class Render {
    public static void main(String[] args) throws Exception {
        VelocityEngine engine = new VelocityEngine();
        Properties p = new Properties();
        p.setProperty("runtime.log.logsystem.class", "org.apache.velocity.runtime.log.NullLogChute");
        engine.init(p);
        File[] files = new File(args[0]).listFiles((d, n) -> n.endsWith(".vm"));
        Arrays.sort(files);
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (File f : files) {
            String src = new String(Files.readAllBytes(f.toPath()), StandardCharsets.UTF_8);
            VelocityContext ctx = new VelocityContext();
            ctx.put("name", "World");
            ctx.put("num", 42);
            ctx.put("list", new ArrayList<>(Arrays.asList("a", "b", "c")));
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("k1", "v1");
            map.put("k2", 2);
            ctx.put("map", map);
            ctx.put("empty", "");
            StringWriter w = new StringWriter();
            String result;
            try {
                engine.evaluate(ctx, w, f.getName(), src);
                result = w.toString();
            } catch (Exception e) {
                result = "<<error>>";
            }
            out.print("=====" + f.getName() + "=====\n" + result + "\n=====end=====\n");
        }
    }
}
