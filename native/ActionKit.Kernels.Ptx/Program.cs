using ActionKit.Kernels.Ptx;
using ILGPU.Runtime.Cuda;

// Usage: ActionKit.Kernels.Ptx [--out DIR]
// Compiles every GPU kernel to PTX for sm_90 and sm_80, assembles the sm_90 PTX with ptxas, and writes each module and
// ptxas's resource report under DIR (default artifacts/ptx), with a summary table (report.md). Exit code 1 when a
// kernel does not assemble or a hot kernel spills registers, 6 when ptxas is missing.
string output = "artifacts/ptx";
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length)
        output = args[++i];
    else
    {
        Console.Error.WriteLine($"Unknown argument {args[i]}. Usage: ActionKit.Kernels.Ptx [--out DIR]");
        return 2;
    }
}
string? ptxas = Ptxas.Find(Directory.GetCurrentDirectory());
if (ptxas == null)
{
    Console.Error.WriteLine(Ptxas.MissingMessage);
    return 6;
}

Directory.CreateDirectory(output);
var rows = new List<(string Name, PtxasReport Report)>();
var failures = new List<string>();
foreach (var (architecture, sm) in new[] { (CudaArchitecture.SM_90, "sm_90"), (CudaArchitecture.SM_80, "sm_80") })
{
    using var compiler = new PtxCompiler(architecture);
    foreach (var kernel in PtxCompiler.Kernels())
    {
        string name = PtxCompiler.Name(kernel), file = Path.Combine(output, $"{name}.{sm}.ptx");
        File.WriteAllText(file, compiler.Compile(kernel));
        if (sm != "sm_90")
            continue;
        try
        {
            var report = Ptxas.Assemble(ptxas, file, sm);
            rows.Add((name, report));
            if (report.Spills && PtxCompiler.IsHot(kernel))
                failures.Add($"{name} spills registers ({report.SpillStoreBytes} bytes stored, {report.SpillLoadBytes} loaded)");
        }
        catch (InvalidOperationException error)
        {
            failures.Add(error.Message);
        }
    }
}

var lines = new List<string>
{
    $"# ptxas resource report (sm_90, PTX ISA 7.8, {Path.GetFileName(ptxas)} of CUDA 11.8)",
    "",
    "| kernel | hot | registers | shared bytes | stack bytes | spill stores | spill loads |",
    "|---|---|---:|---:|---:|---:|---:|",
};
lines.AddRange(rows.Select(row => $"| {row.Name} | {(PtxCompiler.IsHot(row.Name) ? "yes" : "")} | {row.Report.Registers} | {row.Report.SharedBytes} | " +
    $"{row.Report.StackFrameBytes} | {row.Report.SpillStoreBytes} | {row.Report.SpillLoadBytes} |"));
lines.Add("");
lines.Add(failures.Count == 0 ? $"All {rows.Count} kernels assemble for sm_90; no hot kernel spills." : $"FAILED:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
File.WriteAllLines(Path.Combine(output, "report.md"), lines);
foreach (var line in lines)
    Console.WriteLine(line);
return failures.Count == 0 ? 0 : 1;
