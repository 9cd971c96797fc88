// The filter language's reference: Apache Lucene's PrecedenceQueryParser (AND binds
// tighter than OR, default operator OR) with Elasticsearch's conventions, over an
// in-memory index of the contacts the differential test (tests/api/lucene.rs) made.
//
//   java -cp <lucene jars>:. LuceneOracle CONTACTS < QUERIES > ANSWERS
//
// CONTACTS has one contact a line, tab-separated: id, name, phones (comma-separated),
// email, created, updated, custom fields (key=value;key=value). QUERIES has one query
// a line; ANSWERS one line each: "OK id,id,..." (ids in ascending order) or
// "ERR reason" when the parser refuses the query.
//
// The index, as CONTRACT §7 reads the fields: `name` and custom fields are words,
// lowercased and ASCII-folded; `id` (in its case), `phone` and `email` (lowercased)
// are exact values; `created` and
// `updated` are numeric points. `_exists_` lists the fields a contact has a value
// in. Lucene 8's flexible parser leaves the terms of prefixes and ranges as written:
// the test writes them in lower case (ids in their own case). Elasticsearch's convention that a query or group of only prohibited clauses
// matches everything but them is applied to every boolean query the parser built.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper;
import org.apache.lucene.analysis.util.CharTokenizer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.queryparser.flexible.precedence.PrecedenceQueryParser;
import org.apache.lucene.queryparser.flexible.standard.config.PointsConfig;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.store.ByteBuffersDirectory;

public class LuceneOracle {
    /// Words: runs of letters and digits, lowercased and folded to ASCII.
    static Analyzer words() {
        return new Analyzer() {
            @Override
            protected TokenStreamComponents createComponents(String field) {
                Tokenizer t = CharTokenizer.fromTokenCharPredicate(Character::isLetterOrDigit);
                TokenStream s = new ASCIIFoldingFilter(new LowerCaseFilter(t));
                return new TokenStreamComponents(t, s);
            }
        };
    }

    /// An exact value, lowercased.
    static Analyzer exact() {
        return new Analyzer() {
            @Override
            protected TokenStreamComponents createComponents(String field) {
                Tokenizer t = new KeywordTokenizer();
                return new TokenStreamComponents(t, new LowerCaseFilter(t));
            }
        };
    }

    /// Elasticsearch's fix of a boolean query with only prohibited clauses, at every level.
    static Query fixNegative(Query q) {
        if (!(q instanceof BooleanQuery)) {
            return q;
        }
        BooleanQuery b = (BooleanQuery) q;
        BooleanQuery.Builder out = new BooleanQuery.Builder();
        out.setMinimumNumberShouldMatch(b.getMinimumNumberShouldMatch());
        boolean onlyProhibited = !b.clauses().isEmpty();
        for (BooleanClause c : b.clauses()) {
            out.add(fixNegative(c.getQuery()), c.getOccur());
            if (c.getOccur() != BooleanClause.Occur.MUST_NOT) {
                onlyProhibited = false;
            }
        }
        if (onlyProhibited) {
            out.add(new MatchAllDocsQuery(), BooleanClause.Occur.MUST);
        }
        return out.build();
    }

    public static void main(String[] args) throws Exception {
        Map<String, Analyzer> perField = new HashMap<>();
        for (String f : new String[] {"phone", "phones", "email", "_exists_", "created", "updated"}) {
            perField.put(f, exact());
        }
        // Ids keep their case, as callsheet compares them.
        perField.put("id", new org.apache.lucene.analysis.core.KeywordAnalyzer());
        Analyzer analyzer = new PerFieldAnalyzerWrapper(words(), perField);
        ByteBuffersDirectory dir = new ByteBuffersDirectory();
        try (IndexWriter w = new IndexWriter(dir, new IndexWriterConfig(analyzer))) {
            for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
                if (line.isEmpty()) {
                    continue;
                }
                String[] col = line.split("\t", -1);
                Document d = new Document();
                d.add(new StoredField("out", col[0]));
                d.add(new StringField("id", col[0], Field.Store.NO));
                d.add(new StringField("_exists_", "id", Field.Store.NO));
                if (col[1].chars().anyMatch(Character::isLetterOrDigit)) {
                    d.add(new TextField("name", col[1], Field.Store.NO));
                    d.add(new StringField("_exists_", "name", Field.Store.NO));
                }
                if (!col[2].isEmpty()) {
                    for (String p : col[2].split(",")) {
                        d.add(new StringField("phone", p, Field.Store.NO));
                        d.add(new StringField("phones", p, Field.Store.NO));
                    }
                    d.add(new StringField("_exists_", "phone", Field.Store.NO));
                    d.add(new StringField("_exists_", "phones", Field.Store.NO));
                }
                if (!col[3].isEmpty()) {
                    d.add(new StringField("email", col[3].toLowerCase(), Field.Store.NO));
                    d.add(new StringField("_exists_", "email", Field.Store.NO));
                }
                for (int i = 4; i <= 5; i++) {
                    String f = i == 4 ? "created" : "updated";
                    d.add(new LongPoint(f, Long.parseLong(col[i])));
                    d.add(new StringField(f, col[i], Field.Store.NO));
                    d.add(new StringField("_exists_", f, Field.Store.NO));
                }
                if (!col[6].isEmpty()) {
                    for (String kv : col[6].split(";")) {
                        int eq = kv.indexOf('=');
                        String key = kv.substring(0, eq);
                        String value = kv.substring(eq + 1);
                        if (!value.chars().anyMatch(Character::isLetterOrDigit)) {
                            continue;
                        }
                        for (String f : new String[] {key, "fields." + key}) {
                            d.add(new TextField(f, value, Field.Store.NO));
                            d.add(new StringField("_exists_", f, Field.Store.NO));
                        }
                    }
                }
                w.addDocument(d);
            }
        }
        DirectoryReader reader = DirectoryReader.open(dir);
        IndexSearcher searcher = new IndexSearcher(reader);
        PrecedenceQueryParser parser = new PrecedenceQueryParser(analyzer);
        parser.setMultiFields(new CharSequence[] {"name", "phone"});
        parser.setAllowLeadingWildcard(true);
        Map<String, PointsConfig> points = new HashMap<>();
        points.put("created", new PointsConfig(new DecimalFormat("0"), Long.class));
        points.put("updated", new PointsConfig(new DecimalFormat("0"), Long.class));
        parser.setPointsConfigMap(points);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        String q;
        while ((q = in.readLine()) != null) {
            Query query;
            try {
                // Elasticsearch writes `field:>=v`; this parser `field>=v`.
                String lucene = q.replaceAll("([A-Za-z0-9_.]):(>=|<=|>|<)", "$1$2");
                query = fixNegative(parser.parse(lucene, null));
            } catch (Exception e) {
                out.append("ERR ").append(String.valueOf(e.getMessage()).replace('\n', ' ')).append('\n');
                continue;
            }
            List<String> ids = new ArrayList<>();
            for (ScoreDoc sd : searcher.search(query, Math.max(1, reader.numDocs())).scoreDocs) {
                ids.add(searcher.doc(sd.doc).get("out"));
            }
            Collections.sort(ids);
            out.append("OK ").append(String.join(",", ids)).append('\n');
            if (args.length > 1) {
                System.err.println(q + "  =>  " + query + "  =>  " + String.join(",", ids));
            }
        }
        System.out.print(out);
    }
}
