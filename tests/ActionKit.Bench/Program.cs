using System.Text.Json;
using ActionKit.Bench;
using Spectre.Console;

// Usage: ActionKit.Bench [--artifacts DIR] [--only kernels|x3d|loader|export|mpi] [--profile]
if (args is [DistributedBenchmarks.RankArgument])
    return DistributedBenchmarks.RunRank();
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
            Console.Error.WriteLine($"Unknown argument {args[i]}. Usage: ActionKit.Bench [--artifacts DIR] [--only kernels|x3d|loader|export|mpi] [--profile]");
            return 2;
    }
}

var groups = new (string Name, Func<IEnumerable<BenchmarkRow>> Run)[]
{
    ("kernels", KernelBenchmarks.Run),
    ("x3d", () => ModelBenchmarks.Run([112, 160], profile: profile)),
    ("loader", () => LoaderBenchmarks.Run()),
    ("export", () => ExportBenchmarks.Run(8, 56).Concat(ExportBenchmarks.Run(4, 160))),
    ("mpi", DistributedBenchmarks.Run),
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
