using System.Text.Json;
using ActionKit.Bench;
using Spectre.Console;

// Usage: ActionKit.Bench [--artifacts DIR] [--only kernels|x3d|loader|export] [--profile]
string outputFolder = "artifacts/bench";
string? only = null;
bool profile = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--artifacts" when i + 1 < args.Length:
            outputFolder = args[++i];
            break;
        case "--only" when i + 1 < args.Length:
            only = args[++i];
            break;
        case "--profile":
            profile = true;
            break;
        default:
            Console.Error.WriteLine($"Unknown argument {args[i]}. Usage: ActionKit.Bench [--artifacts DIR] [--only kernels|x3d|loader|export] [--profile]");
            return 2;
    }
}

var groups = new (string Name, Func<IEnumerable<BenchmarkRow>> Run)[]
{
    ("kernels", KernelBenchmarks.Run),
    ("x3d", () => ModelBenchmarks.Run([112, 160], profile: profile)),
    ("loader", () => LoaderBenchmarks.Run()),
    ("export", () => new[] { (8, 56, 8), (8, 56, 1), (4, 160, 8), (4, 160, 1) }.SelectMany(shape => ExportBenchmarks.Run(shape.Item1, shape.Item2, shape.Item3))),
};
var rows = new List<BenchmarkRow>();
var table = new Table().AddColumns("group", "case", "value", "unit", "peer", "peer value", "ratio");
foreach (var (name, run) in groups.Where(g => only is null || g.Name == only))
    foreach (var row in run())
    {
        rows.Add(row);
        AnsiConsole.MarkupLineInterpolated($"[grey]{row.Group}[/] {row.Case}: [bold]{row.Value:F2}[/] {row.Unit}");
        table.AddRow(row.Group, Markup.Escape(row.Case), row.Value.ToString("F2"), row.Unit, Markup.Escape(row.Peer ?? ""),
            row.PeerValue?.ToString("F2") ?? "", row.Ratio is { } r ? $"{r:F2}x" : "");
    }
AnsiConsole.Write(table);

Directory.CreateDirectory(outputFolder);
var report = new
{
    machine = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), runtime = Environment.Version.ToString() },
    timestamp = DateTimeOffset.UtcNow,
    rows,
};
string json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
string file = Path.Combine(outputFolder, $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
File.WriteAllText(file, json);
File.WriteAllText(Path.Combine(outputFolder, "latest.json"), json);
AnsiConsole.MarkupLineInterpolated($"Wrote {file}");
return 0;
