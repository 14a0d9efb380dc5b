using System.Globalization;
using System.Text.Json;
using ActionKit.Bench;
using ActionKit.Engine;
using Spectre.Console;

const string usage = "Usage: ActionKit.Bench [--artifacts DIR] [--only kernels|x3d|loader|export|mpi] [--profile] [--device auto|cpu|cuda] "
    + "[--x3d FRAMESxSIZE[,FRAMESxSIZE...]] [--batch N] [--classes N]";
if (args is [DistributedBenchmarks.RankArgument])
    return DistributedBenchmarks.RunRank();
string outputFolder = "artifacts/bench";
string? only = null;
bool profile = false;
string device = "cpu";
(int Frames, int Size)[] shapes = [(4, 112), (4, 160)];
int batch = 8, classes = 51;
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
        case "--device" when i + 1 < args.Length:
            device = args[++i];
            break;
        case "--x3d" when i + 1 < args.Length && TryParseShapes(args[i + 1], out var parsed):
            shapes = parsed;
            i++;
            break;
        case "--batch" when i + 1 < args.Length && int.TryParse(args[i + 1], out batch) && batch > 0:
            i++;
            break;
        case "--classes" when i + 1 < args.Length && int.TryParse(args[i + 1], out classes) && classes > 0:
            i++;
            break;
        default:
            Console.Error.WriteLine($"Unknown or malformed argument {args[i]}. {usage}");
            return 2;
    }
}

IBackend backend;
try
{
    backend = Devices.Create(device);
}
catch (DeviceUnavailableException error)
{
    Console.Error.WriteLine(error.Message);
    return 5;
}
using var deviceBackend = backend;
AnsiConsole.MarkupLineInterpolated($"device: [bold]{backend.Name}[/]");

// The kernels group times the CPU kernels against plain loops, or a GPU's operations against the CPU backend.
var groups = new (string Name, Func<IEnumerable<BenchmarkRow>> Run)[]
{
    ("kernels", () => backend is CpuBackend ? KernelBenchmarks.Run() : DeviceKernelBenchmarks.Run(backend)),
    ("x3d", () => ModelBenchmarks.Run(backend, shapes, batch, classes, profile)),
    ("loader", () => LoaderBenchmarks.Run()),
    ("export", () => new[] { (8, 56, 8), (8, 56, 1), (4, 160, 8), (4, 160, 1) }.SelectMany(shape => ExportBenchmarks.Run(shape.Item1, shape.Item2, shape.Item3, profile))),
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
    machine = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), runtime = Environment.Version.ToString(), device = backend.Name },
    timestamp = DateTimeOffset.UtcNow,
    rows,
};
string json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
string file = Path.Combine(outputFolder, $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
File.WriteAllText(file, json);
File.WriteAllText(Path.Combine(outputFolder, "latest.json"), json);
AnsiConsole.MarkupLineInterpolated($"Wrote {file}");
return 0;

// "8x224,13x160" to [(8, 224), (13, 160)].
static bool TryParseShapes(string text, out (int Frames, int Size)[] shapes)
{
    var parts = text.Split(',').Select(part => part.Split('x')).ToArray();
    shapes = [.. parts.Where(p => p.Length == 2).Select(p => (int.TryParse(p[0], CultureInfo.InvariantCulture, out int f) ? f : 0,
        int.TryParse(p[1], CultureInfo.InvariantCulture, out int s) ? s : 0))];
    return shapes.Length == parts.Length && shapes.All(shape => shape.Frames > 0 && shape.Size > 0);
}
