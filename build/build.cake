// ActionKit's task graph, run by ./build.sh or ./build.ps1:  ./build.sh --target=<Task> [--option=value ...]
// Tasks are thin: each stage task is one `actionkit <verb>` call; the logic and the stage cache live in
// ActionKit.Pipeline (see README.md, "Caching"). Options the script does not know fail with the list of valid ones.

var target = Argument("target", "Optimize");
var configuration = Argument("configuration", "Release");

// Pipeline options, forwarded as given to every stage verb (they are `actionkit build`'s options). An option that
// is not given takes its value from params.yaml (shown in brackets). Value "" marks a flag.
var pipelineOptions = new (string Name, string Value, string Help)[]
{
    ("data", "DIR", "HMDB51-layout dataset [data/synth-hmdb51, the synthetic one, which Synth writes]"),
    ("workspace", "DIR", "workspace folder [workspace]"),
    ("template", "ID", "template id, name or .yaml path [X3D-CPU]"),
    ("split", "1|2|3", "HMDB51 split [1]"),
    ("source", "rawframes|videos", "what Convert reads [rawframes]"),
    ("device", "auto|cpu|cuda", "where to compute [auto]"),
    ("seed", "N", "synthetic dataset seed [2]"),
    ("videos", "", "Synth also writes .avi videos"),
    ("epochs", "N", "training epochs [the template's]"),
    ("batch-size", "N", "training batch size [the template's]"),
    ("lr", "RATE", "learning rate [the template's]"),
    ("load-from", "PATH", "Build/Train: fine-tune from a PyTorch X3D checkpoint, mmaction2 or PyTorchVideo names [none]"),
    ("resume", "", "Train continues an interrupted run of the same key from its last epoch"),
    ("workers", "N", "loader threads [the cores, at most 4]"),
    ("clips", "N", "Eval, Export, Optimize: clips per video, scores averaged [the template's]"),
    ("crops", "1|3", "Eval, Export, Optimize: centre crop or three crops per clip [1]"),
    ("force", "", "run the stages even when they are up to date"),
};
var scriptOptions = new (string Name, string Value, string Help)[]
{
    ("target", "TASK", "the task to run [Optimize, the whole pipeline]"),
    ("configuration", "NAME", "build configuration [Release]"),
    ("ranks", "N", "Train on N MPI ranks with MPICH's mpiexec (data parallel; --batch-size a multiple of N) [1]"),
};

var root = MakeAbsolute(Directory(".."));
Context.Environment.WorkingDirectory = root;
System.IO.Directory.SetCurrentDirectory(root.FullPath);
var cliProject = "src/ActionKit.Cli/ActionKit.Cli.csproj";
var cliOutput = $"src/ActionKit.Cli/bin/{configuration}/net10.0";
var ranks = Argument("ranks", 1);

Task("Compile")
    .Description("Build the actionkit CLI (skipped when no source changed since the last build).")
    .Does(() => CompileCli());

Task("Synth")
    .Description("Write the synthetic HMDB51-layout dataset (only when --data is the default synthetic root).")
    .IsDependentOn("Compile")
    .Does(() => Actionkit("synth"));

Task("Convert")
    .Description("Convert the HMDB51 split to CVAT folders (data/cvat/<dataset>-split<k>-<source>).")
    .IsDependentOn("Synth")
    .Does(() => Actionkit("convert"));

Task("Build")
    .Description("Write the workspace (template.yaml, data.yaml).")
    .IsDependentOn("Convert")
    .Does(() => Actionkit("build"));

Task("Train")
    .Description("Train the workspace's model (models/, metrics.jsonl, curves.png).")
    .IsDependentOn("Build")
    .Does(() => Actionkit("train", ranks));

Task("Eval")
    .Description("Evaluate the trained model on the test root (performance.json, confusion.png, explain/).")
    .IsDependentOn("Train")
    .Does(() => Actionkit("eval"));

Task("Export")
    .Description("Export the trained model to ONNX and OpenVINO IR, checked and evaluated (exported/).")
    .IsDependentOn("Eval")
    .Does(() => Actionkit("export"));

Task("Optimize")
    .Description("Quantize the exported model to INT8 (QDQ ONNX, FakeQuantize IR), evaluated (optimized/).")
    .IsDependentOn("Export")
    .Does(() => Actionkit("optimize"));

Task("Test")
    .Description("Run every test project in Release; TRX results in artifacts/test-results.")
    .Does(() =>
    {
        CleanDirectory("artifacts/test-results");
        DotNetTest("Pipeline.sln", new DotNetTestSettings
        {
            Configuration = configuration,
            ResultsDirectory = "artifacts/test-results",
            Loggers = { "trx" },
        });
    });

Task("Fuzz")
    .Description("Run the readers' fuzz corpora at 20 times the cases CI runs (ACTIONKIT_FUZZ_SCALE, default 20).")
    .Does(() => DotNetTest("Pipeline.sln", new DotNetTestSettings
    {
        Configuration = configuration,
        Filter = "Category=Fuzz",
        EnvironmentVariables = { ["ACTIONKIT_FUZZ_SCALE"] = EnvironmentVariable("ACTIONKIT_FUZZ_SCALE") ?? "20" },
    }));

Task("Bench")
    .Description("Run the benchmarks (tests/ActionKit.Bench) in Release; results in artifacts/bench. --device=cuda: x3d and kernels on the GPU.")
    .Does(() =>
    {
        var output = MakeAbsolute(Directory("artifacts/bench"));
        EnsureDirectoryExists(output);
        var arguments = new ProcessArgumentBuilder().Append("--artifacts").AppendQuoted(output.FullPath);
        if (HasArgument("device"))
            arguments.Append("--device").Append(Argument<string>("device"));
        DotNetRun("tests/ActionKit.Bench/ActionKit.Bench.csproj", arguments, new DotNetRunSettings { Configuration = configuration });
    });

Task("Ptx")
    .Description("Compile every GPU kernel to PTX (sm_90, sm_80) and assemble it with ptxas; PTX and report.md in artifacts/ptx.")
    .Does(() =>
    {
        var output = MakeAbsolute(Directory("artifacts/ptx"));
        CleanDirectory(output);
        DotNetRun("native/ActionKit.Kernels.Ptx/ActionKit.Kernels.Ptx.csproj",
            new ProcessArgumentBuilder().Append("--out").AppendQuoted(output.FullPath),
            new DotNetRunSettings { Configuration = configuration });
    });

CheckArguments();
RunTarget(target);

// Fails on an unknown option or target, listing the valid ones. Cake's own options (--verbosity, --exclusive,
// --dryrun, --tree, --description, ...) never reach the script's arguments.
void CheckArguments()
{
    var known = scriptOptions.Concat(pipelineOptions).Select(option => option.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
    var unknown = Arguments().Keys.Where(name => !known.Contains(name)).ToList();
    if (unknown.Count > 0)
        throw new CakeException(2, $"Unknown option(s): {string.Join(", ", unknown.Select(name => "--" + name))}.{Environment.NewLine}{Usage()}");
    if (!Tasks.Any(task => task.Name.Equals(target, StringComparison.OrdinalIgnoreCase)))
        throw new CakeException(2, $"Unknown target '{target}'.{Environment.NewLine}{Usage()}");
}

string Usage()
{
    var lines = new List<string> { "Targets:" };
    lines.AddRange(Tasks.Select(task => $"  {task.Name,-28} {task.Description}"));
    lines.Add("Options:");
    lines.AddRange(scriptOptions.Concat(pipelineOptions).Select(option =>
        $"  {(option.Value.Length == 0 ? "--" + option.Name : $"--{option.Name}={option.Value}"),-28} {option.Help}"));
    lines.Add("Cake's own: --verbosity=quiet|minimal|normal|verbose|diagnostic, --exclusive, --dryrun, --tree, --description");
    return string.Join(Environment.NewLine, lines);
}

// Builds the CLI unless a stamp written by the last successful build is newer than every source file and folder
// (a folder's time changes when a file is added or deleted). `dotnet build` alone takes seconds even when nothing changed.
void CompileCli()
{
    var stamp = new System.IO.FileInfo(System.IO.Path.Combine(cliOutput, ".build-stamp"));
    if (stamp.Exists && NewestSourceTime() < stamp.LastWriteTimeUtc)
    {
        Verbose("actionkit is up to date.");
        return;
    }
    DotNetBuild(cliProject, new DotNetBuildSettings { Configuration = configuration, NoLogo = true, Verbosity = DotNetVerbosity.Minimal });
    System.IO.File.WriteAllText(stamp.FullName, DateTime.UtcNow.ToString("O"));
}

DateTime NewestSourceTime()
{
    var skipped = new[] { "bin", "obj" };
    var entries = new[] { "src", "native" }
        .SelectMany(folder => new System.IO.DirectoryInfo(folder).EnumerateFileSystemInfos("*", System.IO.SearchOption.AllDirectories))
        .Where(entry => !entry.FullName.Split('/', '\\').Intersect(skipped).Any());
    var files = new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", ".editorconfig" }
        .Select(name => (System.IO.FileSystemInfo)new System.IO.FileInfo(name));
    return entries.Concat(files).Where(entry => entry.Exists).Max(entry => entry.LastWriteTimeUtc);
}

// Runs `actionkit <verb>` with the pipeline options given to this script; over several ranks, under MPICH's mpiexec
// (rank 0 alone plans the stage, writes its outputs and its lock).
void Actionkit(string verb, int processes = 1)
{
    CompileCli();
    var arguments = new ProcessArgumentBuilder();
    if (processes > 1)
        arguments.Append("-np").Append(processes.ToString()).AppendQuoted("build/mpi-rank.sh").Append("dotnet");
    arguments.AppendQuoted(System.IO.Path.Combine(cliOutput, "actionkit.dll")).Append(verb);
    foreach (var option in pipelineOptions.Where(option => HasArgument(option.Name)))
    {
        string value = Argument(option.Name, "");
        if (option.Value.Length > 0)
            arguments.Append("--" + option.Name).AppendQuoted(value);
        else if (value.Length == 0 || value.Equals("true", StringComparison.OrdinalIgnoreCase))
            arguments.Append("--" + option.Name);
    }
    int exitCode = StartProcess(processes > 1 ? "mpiexec.mpich" : "dotnet", new ProcessSettings { Arguments = arguments });
    if (exitCode != 0)
        throw new CakeException(exitCode, $"actionkit {verb} failed (exit code {exitCode}).");
}
